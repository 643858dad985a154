//! Reading an HTTP answer under the project's body cap
//! ([`mesh_core::body_cap::DEFAULT_MAX_BODY`]): a hostile or broken Prometheus, tracing backend or
//! Kiali cannot make the client hold more than that.

use mesh_core::body_cap::{CappedBody, DEFAULT_MAX_BODY};

use crate::Error;

/// Reads `response`'s body, chunk by chunk, failing with [`Error::TooLarge`] past the cap.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    service: &'static str,
    endpoint: &str,
) -> Result<Vec<u8>, Error> {
    let too_large = |source| Error::TooLarge {
        service,
        endpoint: endpoint.to_owned(),
        source,
    };
    let mut body = CappedBody::new(DEFAULT_MAX_BODY, response.content_length()).map_err(too_large)?;
    while let Some(chunk) = response.chunk().await.map_err(|source| Error::Transport {
        service,
        endpoint: endpoint.to_owned(),
        source,
    })? {
        body.push(&chunk).map_err(too_large)?;
    }
    Ok(body.into_bytes())
}
