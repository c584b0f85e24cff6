//! `grpc.health.v1.Health`: SERVING for the whole server (`""`) and for `umadb.v1.DCB` until
//! shutdown begins, NOT_SERVING after; a watch stream sends the status, then each change, and
//! ends after NOT_SERVING.

use std::pin::Pin;

use stele_proto::health::{
    health_check_response::ServingStatus, health_server, HealthCheckRequest, HealthCheckResponse,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

const SERVICES: [&str; 2] = ["", "umadb.v1.DCB"];

pub struct Health {
    stop: watch::Receiver<bool>,
}

impl Health {
    pub fn new(stop: watch::Receiver<bool>) -> Health {
        Health { stop }
    }

    fn status(stopping: bool) -> HealthCheckResponse {
        let status = if stopping {
            ServingStatus::NotServing
        } else {
            ServingStatus::Serving
        };
        HealthCheckResponse {
            status: status as i32,
        }
    }
}

fn known(service: &str) -> Result<(), Status> {
    if SERVICES.contains(&service) {
        Ok(())
    } else {
        Err(Status::not_found(format!("unknown service {service:?}")))
    }
}

type WatchStream = Pin<Box<dyn futures::Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl health_server::Health for Health {
    async fn check(
        &self,
        req: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        known(&req.get_ref().service)?;
        Ok(Response::new(Health::status(*self.stop.borrow())))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        known(&req.get_ref().service)?;
        let stop = self.stop.clone();
        let stream =
            futures::stream::unfold((stop, false, false), |(mut stop, sent, done)| async move {
                if done {
                    return None;
                }
                if sent {
                    // Wait for shutdown; then say NOT_SERVING once and end.
                    let _ = stop.wait_for(|s| *s).await;
                    return Some((Ok(Health::status(true)), (stop, true, true)));
                }
                let stopping = *stop.borrow();
                Some((Ok(Health::status(stopping)), (stop, true, stopping)))
            });
        Ok(Response::new(Box::pin(stream)))
    }
}
