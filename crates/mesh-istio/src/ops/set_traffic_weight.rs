//! `set_traffic_weight` on Istio: the weights of the library's default route; the subsets it
//! needs are added to the DestinationRule before the VirtualService write (see [`crate::planner`]).

use mesh_core::{ServiceId, TrafficSplit};

use crate::routes::HttpRoutes;

/// Edits the VirtualService `routes` for `split`.
pub(crate) fn edit(service: &ServiceId, split: &TrafficSplit, routes: &mut HttpRoutes) {
    routes.set_split(service, split);
}
