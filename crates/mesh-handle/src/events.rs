//! A subscription to a [`Mesh`](crate::Mesh)'s event stream: every event with the time it was
//! published, optionally only the names asked for (the spec's `mesh.on('traffic.weight.updated')`).

use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use crate::{MeshEvent, TimedEvent};

/// Events as they are published. A subscriber that falls more than 1024 events behind gets
/// [`RecvError::Lagged`] and skips ahead; it never slows an operation down.
///
/// ```
/// # #[cfg(feature = "testing")]
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use mesh_handle::{Mesh, MeshKind, TrafficSplit};
/// let mesh = Mesh::fake(MeshKind::Istio);
/// let mut weights = mesh.subscribe().only(&["traffic.weight.updated"]);
/// mesh.enable_mtls(&"prod".parse()?).await?;
/// mesh.set_traffic_weight(&"prod/reviews".parse()?, &TrafficSplit::try_from_pairs([("v1", 100)])?).await?;
/// let e = weights.recv_timed().await.unwrap();
/// assert_eq!(e.event.name(), "traffic.weight.updated"); // the mTLS event was skipped
/// assert!(e.at <= std::time::SystemTime::now());
/// # Ok::<(), mesh_handle::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Events {
    rx: broadcast::Receiver<TimedEvent>,
    names: Option<Vec<String>>,
}

impl Events {
    pub(crate) fn new(rx: broadcast::Receiver<TimedEvent>) -> Self {
        Self { rx, names: None }
    }

    /// Only events with one of these names (`traffic.weight.updated`, `fault.injected`, ...).
    #[must_use]
    pub fn only(mut self, names: &[&str]) -> Self {
        self.names = Some(names.iter().map(|n| (*n).to_owned()).collect());
        self
    }

    /// The next event (of the chosen names), with when it was published.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] after falling behind, [`RecvError::Closed`] when every handle is gone.
    pub async fn recv_timed(&mut self) -> Result<TimedEvent, RecvError> {
        loop {
            let e = self.rx.recv().await?;
            if self.wanted(&e.event) {
                return Ok(e);
            }
        }
    }

    /// The next event (of the chosen names).
    ///
    /// # Errors
    /// As [`Events::recv_timed`].
    pub async fn recv(&mut self) -> Result<MeshEvent, RecvError> {
        self.recv_timed().await.map(|e| e.event)
    }

    /// The next event (of the chosen names) already published, without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when none waits; otherwise as [`Events::recv_timed`].
    pub fn try_recv_timed(&mut self) -> Result<TimedEvent, TryRecvError> {
        loop {
            let e = self.rx.try_recv()?;
            if self.wanted(&e.event) {
                return Ok(e);
            }
        }
    }

    /// [`Events::try_recv_timed`] without the time.
    ///
    /// # Errors
    /// As [`Events::try_recv_timed`].
    pub fn try_recv(&mut self) -> Result<MeshEvent, TryRecvError> {
        self.try_recv_timed().map(|e| e.event)
    }

    /// Events published and not yet received (of any name).
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    fn wanted(&self, event: &MeshEvent) -> bool {
        self.names
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == event.name()))
    }
}
