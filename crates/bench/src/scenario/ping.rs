//! The ping scenario: `GET /api/ping` back to back on every connection; `200`
//! is ok, anything else an error.

use std::sync::Arc;

use hyper::{Method, StatusCode};
use tokio::time::Instant;

use super::{GRACE, drive, summary};
use crate::error::BenchError;
use crate::http::{self, Link, Target};
use crate::retry::{self, AnswerBy, Judged, Retry, Via};
use crate::stats::{Class, ConnStats, Live};
use crate::{BenchArgs, Scenario, Summary};

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let live = Arc::new(Live::default());
    let uri = target.uri("/api/ping")?;
    let driven = drive(args, args.connections, live.clone(), |_, deadline| {
        conn_task(target.clone(), live.clone(), uri.clone(), deadline)
    })
    .await?;
    let server_cpu = driven.server_cpu();
    let mut s = summary(Scenario::Ping, driven.totals, driven.elapsed_s, args.connections);
    s.server_cpu = server_cpu;
    Ok(s)
}

async fn conn_task(
    target: Arc<Target>,
    live: Arc<Live>,
    uri: hyper::Uri,
    deadline: Instant,
) -> Result<(ConnStats, ()), BenchError> {
    let mut stats = ConnStats::new()?;
    let mut link = Link::new(target.clone());
    let limit = deadline + GRACE;
    while Instant::now() < deadline {
        let mut via = Via::Link { link: &mut link, stats: &mut stats, live: &live };
        let retry = Retry::until(deadline).answer_by(AnswerBy::At(limit));
        let make = || http::request(&target, Method::GET, uri.clone(), None, None, None);
        // Counted by the judge; nothing else to do with an answer.
        retry::send(&mut via, retry, make, |status, _| {
            Judged::new(if status == StatusCode::OK { Class::Ok } else { Class::Error }, ())
        })
        .await?;
    }
    Ok((stats, ()))
}
