//! UmaDB's legacy service path: a call to `/umadb.UmaDBService/<Method>` is served as
//! `/umadb.v1.DCB/<Method>` (older clients and the DCB k6 suite use it).

use std::task::{Context, Poll};

const LEGACY: &str = "/umadb.UmaDBService/";
const CURRENT: &str = "/umadb.v1.DCB/";

#[derive(Clone, Copy, Debug, Default)]
pub struct AliasLayer;

impl<S> tower_layer::Layer<S> for AliasLayer {
    type Service = Alias<S>;
    fn layer(&self, inner: S) -> Alias<S> {
        Alias { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Alias<S> {
    inner: S,
}

impl<S, B> tower_service::Service<http::Request<B>> for Alias<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        if let Some(method) = req.uri().path().strip_prefix(LEGACY) {
            let path = format!("{CURRENT}{method}");
            let mut parts = req.uri().clone().into_parts();
            if let Ok(pq) = path.parse() {
                parts.path_and_query = Some(pq);
                if let Ok(uri) = http::Uri::from_parts(parts) {
                    *req.uri_mut() = uri;
                }
            }
        }
        self.inner.call(req)
    }
}
