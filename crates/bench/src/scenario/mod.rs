//! The load runs: argument checks, provisioning, the connection tasks and the
//! merge of their statistics. Each scenario lives in its own module and only
//! supplies the per-connection loop and the checks after the run.

mod checkout;
mod drop;
mod overload;
mod ping;
mod queue;
mod seats;
mod stock;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::acked::{AckSender, AckWriter};
use crate::api::{Api, Sale, VUser};
use crate::error::BenchError;
use crate::http::Target;
use crate::progress::Progress;
use crate::stats::{ConnStats, Live, Totals};
use crate::{BenchArgs, Scenario, ServerCpu, Summary};

/// How long a request in flight at the deadline may still take to answer
/// (its acknowledgement still counts).
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// Largest accepted `--connections`.
const MAX_CONNECTIONS: usize = 100_000;

/// `--users` when not given: 1000, or 20,000 for the seats scenario.
const USERS_DEFAULT: u32 = 1000;

/// Open files needed besides the sockets (queue and seats).
pub(crate) const FD_SPARE: u64 = 64;

pub(crate) async fn run(args: &BenchArgs) -> Result<Summary, BenchError> {
    let args = &with_defaults(args);
    validate(args)?;
    let target = Arc::new(Target::resolve(&args.target).await?);
    match args.scenario {
        Scenario::Ping => ping::run(args, target).await,
        Scenario::Stock => stock::run(args, target).await,
        Scenario::Drop => drop::run(args, target).await,
        Scenario::Queue => queue::run(args, target).await,
        Scenario::Seats => seats::run(args, target).await,
        Scenario::Overload => overload::run(args, target).await,
        Scenario::Checkout => checkout::run(args, target).await,
    }
}

/// The arguments with the scenario's defaults filled in (`--users 0`).
fn with_defaults(args: &BenchArgs) -> BenchArgs {
    let mut args = args.clone();
    if args.users == 0 {
        args.users = match args.scenario {
            Scenario::Seats => seats::USERS_DEFAULT,
            _ => USERS_DEFAULT,
        };
    }
    args
}

fn validate(args: &BenchArgs) -> Result<(), BenchError> {
    let bad = |msg: String| Err(BenchError::InvalidArgs(msg));
    if args.duration == 0 {
        return bad("--duration must be at least 1 second".into());
    }
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        return bad(format!("--connections must be 1..={MAX_CONNECTIONS}"));
    }
    if args.scenario == Scenario::Ping {
        return Ok(());
    }
    if args.users == 0 {
        return bad("--users must be at least 1".into());
    }
    if args.scenario == Scenario::Overload && !(1..=100).contains(&args.overload_factor) {
        return bad("--overload-factor must be 1..=100".into());
    }
    if matches!(args.scenario, Scenario::Stock | Scenario::Overload | Scenario::Checkout) {
        if !(1..=100_000_000).contains(&args.stock) {
            return bad("--stock must be 1..=100000000".into());
        }
        if !(1..=1_000_000).contains(&args.limit) {
            return bad("--limit must be 1..=1000000".into());
        }
        if !(1..=1_000_000).contains(&args.quantity) {
            return bad("--quantity must be 1..=1000000".into());
        }
    }
    if args.scenario == Scenario::Drop && !(1..=1_000_000).contains(&args.winners) {
        return bad("--winners must be 1..=1000000".into());
    }
    if args.scenario == Scenario::Queue {
        queue::validate(args)?;
    }
    if args.scenario == Scenario::Seats {
        seats::validate(args)?;
    }
    if args.scenario == Scenario::Checkout {
        checkout::validate(args)?;
    }
    if args.admin_token.as_deref().is_none_or(str::is_empty) {
        return Err(BenchError::MissingAdminToken(match args.scenario {
            Scenario::Stock => "stock scenario",
            Scenario::Queue => "queue scenario",
            Scenario::Seats => "seats scenario",
            Scenario::Overload => "overload scenario",
            Scenario::Checkout => "checkout scenario",
            _ => "drop scenario",
        }));
    }
    Ok(())
}

/// Raises this process's open-file limit to the hard limit and checks that
/// `need` descriptors fit.
pub(crate) fn raise_nofile(need: u64) -> Result<u64, BenchError> {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map_err(|e| BenchError::Internal(format!("reading the open-file limit: {e}")))?;
    let now = rlimit::increase_nofile_limit(hard)
        .map_err(|e| BenchError::Internal(format!("raising the open-file limit: {e}")))?;
    if now < need {
        return Err(BenchError::InvalidArgs(format!(
            "the WebSockets and connections need about {need} open files, but this process may open \
             only {now} (hard limit {hard}): lower --users or --connections, or raise the limit"
        )));
    }
    Ok(now)
}

/// The users served by connection `conn`: `conn, conn + connections, ...`.
pub(crate) fn user_indices(conn: usize, connections: usize, users: usize) -> impl Iterator<Item = usize> {
    (conn..users).step_by(connections.max(1))
}

/// Creates the users and the sale, opens it and reports it on stderr.
pub(crate) async fn provision(
    args: &BenchArgs,
    target: Arc<Target>,
    spec: serde_json::Value,
) -> Result<(Api, Vec<VUser>, Sale), BenchError> {
    let (mut api, users) = provision_users(args, target).await?;
    let sale = api.create_open_sale(spec).await?;
    eprintln!("bench: sale {} created and open", sale.id);
    Ok((api, users, sale))
}

/// Creates `args.users` bulk users and reports it on stderr.
pub(crate) async fn provision_users(args: &BenchArgs, target: Arc<Target>) -> Result<(Api, Vec<VUser>), BenchError> {
    let mut api = Api::new(target, args.admin_token.as_deref())?;
    let started = Instant::now();
    let total = args.users;
    let users = api
        .bulk_users(total, |done| {
            if !args.quiet && total > crate::api::BULK_MAX {
                eprintln!("bench: created {done}/{total} users");
            }
        })
        .await?;
    eprintln!("bench: created {} users in {:.1} s", users.len(), started.elapsed().as_secs_f64());
    Ok((api, users))
}

/// Opens the acknowledgement file if asked for.
pub(crate) fn ack_writer(args: &BenchArgs) -> Result<Option<AckWriter>, BenchError> {
    args.acked_out.as_deref().map(AckWriter::create).transpose()
}

pub(crate) fn ack_sender(writer: &Option<AckWriter>) -> Option<AckSender> {
    writer.as_ref().and_then(AckWriter::sender)
}

/// What the connection tasks produced.
pub(crate) struct Driven<T> {
    pub totals: Totals,
    pub per_conn: Vec<T>,
    pub elapsed_s: f64,
    /// The server's CPU seconds (`/metrics`) right before and after the load.
    pub server_cpu_s: (Option<f64>, Option<f64>),
}

impl<T> Driven<T> {
    /// The server's CPU time per request attempt of the load.
    pub fn server_cpu(&self) -> ServerCpu {
        ServerCpu::of(self.server_cpu_s.0, self.server_cpu_s.1, self.totals.requests)
    }
}

/// Runs `connections` tasks made by `make(conn, deadline)` to completion and
/// merges their statistics. The progress bar runs meanwhile.
pub(crate) async fn drive<T, F, Fut>(
    args: &BenchArgs,
    connections: usize,
    live: Arc<Live>,
    mut make: F,
) -> Result<Driven<T>, BenchError>
where
    T: Send + 'static,
    F: FnMut(usize, Instant) -> Fut,
    Fut: Future<Output = Result<(ConnStats, T), BenchError>> + Send + 'static,
{
    let duration = Duration::from_secs(args.duration);
    // Its own connection, opened before the load and read again after it.
    let mut probe = Api::new(Arc::new(Target::resolve(&args.target).await?), None)?;
    let cpu_before = probe.server_cpu_seconds().await;
    let start = Instant::now();
    let _ = live.origin.set(start.into_std());
    let progress = Progress::start(live, duration, args.quiet, args.scenario.name());
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for conn in 0..connections {
        tasks.spawn(make(conn, deadline));
    }
    let mut totals = Totals::new()?;
    let mut per_conn = Vec::with_capacity(connections);
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((stats, out))) => {
                totals.add(stats)?;
                per_conn.push(out);
            }
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(BenchError::Internal(format!("connection task: {e}")));
            }
        }
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    progress.finish();
    if let Some(e) = failure {
        return Err(e);
    }
    let cpu_after = if cpu_before.is_some() { probe.server_cpu_seconds().await } else { None };
    Ok(Driven { totals, per_conn, elapsed_s, server_cpu_s: (cpu_before, cpu_after) })
}

/// The summary skeleton shared by all scenarios.
pub(crate) fn summary(scenario: Scenario, totals: Totals, elapsed_s: f64, connections: usize) -> Summary {
    let mut s = Summary::from_totals(scenario, totals, elapsed_s);
    s.connections = connections;
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_each_user_once() {
        for (connections, users) in [(1, 1), (3, 10), (10, 3), (256, 1000), (7, 7), (4, 0)] {
            let mut seen = vec![0u32; users];
            for conn in 0..connections {
                for u in user_indices(conn, connections, users) {
                    assert_eq!(u % connections, conn);
                    seen[u] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{connections} {users}");
        }
    }

    #[test]
    fn users_default_per_scenario() {
        let stock = BenchArgs { scenario: Scenario::Stock, ..BenchArgs::default() };
        assert_eq!(with_defaults(&stock).users, 1000);
        let seats = BenchArgs { scenario: Scenario::Seats, ..BenchArgs::default() };
        assert_eq!(with_defaults(&seats).users, 20_000);
        assert_eq!(with_defaults(&BenchArgs { users: 7, ..seats }).users, 7);
        assert!(validate(&BenchArgs { admin_token: Some("t".into()), ..stock }).is_err(), "0 users");
    }

    #[test]
    fn validation() {
        let ok = with_defaults(&BenchArgs { quiet: true, ..BenchArgs::default() });
        assert!(validate(&ok).is_ok());
        let stock = BenchArgs { scenario: Scenario::Stock, admin_token: None, ..ok.clone() };
        assert!(matches!(validate(&stock), Err(BenchError::MissingAdminToken(_))));
        let stock = BenchArgs { admin_token: Some("x".into()), ..stock };
        assert!(validate(&stock).is_ok());
        assert!(validate(&BenchArgs { quantity: 0, ..stock.clone() }).is_err());
        assert!(validate(&BenchArgs { quantity: 1_000_001, ..stock.clone() }).is_err());
        assert!(validate(&BenchArgs { duration: 0, ..stock.clone() }).is_err());
        let drop = BenchArgs { scenario: Scenario::Drop, winners: 0, ..stock.clone() };
        assert!(validate(&drop).is_err());
        let queue = BenchArgs { scenario: Scenario::Queue, ..stock };
        assert!(validate(&queue).is_ok());
        assert!(matches!(
            validate(&BenchArgs { admin_token: None, ..queue.clone() }),
            Err(BenchError::MissingAdminToken("queue scenario"))
        ));
        assert!(validate(&BenchArgs { chunk_size: 0, ..queue.clone() }).is_err());
        assert!(validate(&BenchArgs { chunk_seconds: 0.01, ..queue.clone() }).is_err());
        assert!(validate(&BenchArgs { chunk_seconds: f64::NAN, ..queue.clone() }).is_err());
        assert!(validate(&BenchArgs { pow_bits: 29, ..queue.clone() }).is_err());
        assert!(validate(&BenchArgs { queue_stock: Some(0), ..queue.clone() }).is_err());
        assert!(validate(&BenchArgs { ws_sources: 0, ..queue.clone() }).is_err());
        assert!(validate(&BenchArgs { ws_concurrency: 0, ..queue.clone() }).is_err());
        assert!(validate(&BenchArgs { queue_stock: Some(5), pow_bits: 0, ..queue.clone() }).is_ok());
        let seats = BenchArgs { scenario: Scenario::Seats, ..queue };
        assert!(validate(&seats).is_ok());
        assert!(matches!(
            validate(&BenchArgs { admin_token: None, ..seats.clone() }),
            Err(BenchError::MissingAdminToken("seats scenario"))
        ));
        assert!(validate(&BenchArgs { confirm_percent: 101, ..seats.clone() }).is_err());
        assert!(validate(&BenchArgs { hot_percent: 101, ..seats.clone() }).is_err());
        assert!(validate(&BenchArgs { viewers: 100_001, ..seats.clone() }).is_err());
        assert!(validate(&BenchArgs { viewers: 0, ..seats.clone() }).is_ok());
        let checkout = BenchArgs { scenario: Scenario::Checkout, ..seats };
        assert!(validate(&checkout).is_ok(), "a limit above 500 is lowered, not refused");
        assert!(matches!(
            validate(&BenchArgs { admin_token: None, ..checkout.clone() }),
            Err(BenchError::MissingAdminToken("checkout scenario"))
        ));
        assert!(validate(&BenchArgs { quantity: 501, ..checkout.clone() }).is_err());
        assert!(validate(&BenchArgs { quantity: 4, limit: 3, ..checkout }).is_err());
    }
}
