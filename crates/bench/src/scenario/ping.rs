//! The ping scenario: `GET /api/ping` back to back on every connection; `200`
//! is ok, anything else an error.

use std::sync::Arc;

use hyper::{Method, StatusCode};
use tokio::time::Instant;

use super::{GRACE, drive, summary};
use crate::api::problem_type;
use crate::error::BenchError;
use crate::http::{self, Attempt, Backoff, Link, Target};
use crate::stats::{Class, ConnStats, Live};
use crate::{BenchArgs, Scenario, Summary};

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let live = Arc::new(Live::default());
    let uri = target.uri("/api/ping")?;
    let driven = drive(args, args.connections, live.clone(), |_, deadline| {
        conn_task(target.clone(), live.clone(), uri.clone(), deadline)
    })
    .await?;
    Ok(summary(Scenario::Ping, driven.totals, driven.elapsed_s, args.connections))
}

async fn conn_task(
    target: Arc<Target>,
    live: Arc<Live>,
    uri: hyper::Uri,
    deadline: Instant,
) -> Result<(ConnStats, ()), BenchError> {
    let mut stats = ConnStats::new()?;
    let mut link = Link::new(target.clone());
    let mut backoff = Backoff::new();
    let limit = deadline + GRACE;
    while Instant::now() < deadline {
        let req = http::request(&target, Method::GET, uri.clone(), None, None, None);
        match link.send(req, limit).await {
            Attempt::Response { status, body, micros } => {
                if status == StatusCode::OK {
                    stats.response(&live, status, micros, None, Class::Ok);
                    backoff.reset();
                } else {
                    let problem = problem_type(&body);
                    stats.response(&live, status, micros, problem.as_deref(), Class::Error);
                    if status == StatusCode::SERVICE_UNAVAILABLE {
                        backoff.wait(deadline).await;
                    }
                }
            }
            failed => {
                stats.failure(&live, &failed);
                backoff.wait(deadline).await;
            }
        }
    }
    Ok((stats, ()))
}
