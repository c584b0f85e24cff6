//! The layer every call passes before its handler: it names the call and keeps its deadline.
//!
//! - The RPC's name (the last segment of the request path) goes into the request's
//!   extensions as [`RpcName`], for the log line of a failed call; tonic's server does not
//!   record it.
//! - A call whose `grpc-timeout` passes before it is answered gets DEADLINE_EXCEEDED, as
//!   immudb's (Go) server answers. tonic's own timeout, which would otherwise fire at the
//!   same moment, answers CANCELLED "Timeout expired"; this layer sits inside it and fires
//!   a millisecond earlier.
//!
//! Not here: authentication (the service checks each call's metadata itself).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The name of the call being served, e.g. `VerifiableGet`.
#[derive(Clone, Debug)]
pub(crate) struct RpcName(pub(crate) String);

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CallLayer;

impl<S> tower_layer::Layer<S> for CallLayer {
    type Service = Call<S>;
    fn layer(&self, inner: S) -> Call<S> {
        Call { inner }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Call<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B, R> tower_service::Service<http::Request<B>> for Call<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send,
    S::Future: Send + 'static,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<std::result::Result<http::Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        let deadline = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        req.extensions_mut().insert(RpcName(name.clone()));
        let answer = self.inner.call(req);
        Box::pin(async move {
            let Some(deadline) = deadline else {
                return answer.await;
            };
            let early = deadline.saturating_sub(Duration::from_millis(1));
            match tokio::time::timeout(early, answer).await {
                Ok(answer) => answer,
                Err(_) => {
                    tracing::warn!(rpc = %name, "call failed: deadline exceeded");
                    Ok(tonic::Status::deadline_exceeded("context deadline exceeded").into_http())
                }
            }
        })
    }
}

/// A `grpc-timeout` value: at most eight digits and a unit (H, M, S, m, u, n), per the gRPC
/// over HTTP/2 protocol. Anything else is no deadline.
fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    if text.len() < 2 || text.len() > 9 || !text.is_ascii() {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_values() {
        assert_eq!(parse_grpc_timeout("1m"), Some(Duration::from_millis(1)));
        assert_eq!(
            parse_grpc_timeout("99999999S"),
            Some(Duration::from_secs(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("5M"), Some(Duration::from_secs(300)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "m", "123456789S", "1x", "-1S", "1.5S", "１S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
