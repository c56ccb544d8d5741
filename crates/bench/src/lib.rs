//! `stampede bench`: the built-in load generator and correctness checker.
//!
//! The scenarios drive a running server over its HTTP API (docs/API.md):
//!
//! - **ping**: `GET /api/ping` in a closed loop, the raw request rate.
//! - **stock**: bulk-created users hammer `POST /holds` on a fresh stock sale
//!   (optionally confirming every hold); afterwards the sale's counters and the
//!   acknowledged quantities are checked for overselling.
//! - **drop**: every user clicks a fresh first-come drop exactly once;
//!   afterwards the acknowledged ranks and the leaderboard are checked for
//!   duplicates, gaps, time inversions and wrong winners.
//! - **queue**: every user opens a WebSocket on a fresh stock sale's waiting
//!   room, joins it in one burst (proof of work solved beforehand), and once
//!   the sale opens and the user's place is admitted, buys one unit with its
//!   pass; the stock runs out part way. Measured: WebSockets held and server
//!   memory per socket, joins per second, admission latency, how fast the
//!   sell-out reaches everyone; checked: overselling, places against the
//!   public shuffle, and live updates a client missed.
//! - **seats**: a 50,000-seat venue, `--viewers` WebSockets watching the live
//!   seat map, and every user holding 2-4 adjacent seats once (best available
//!   or explicit picks, some aimed at the same hot area), half of them
//!   confirmed. Measured: holds per second and how long an acknowledged hold
//!   takes to reach the viewers; checked: seats acknowledged twice, the
//!   server's counts and map against the acknowledged holds, and every
//!   viewer's map against the server's.
//! - **checkout**: bulk-created buyers, each granted enough wallet money for
//!   the sale's per-person limit, check out on a priced stock sale back to
//!   back: a hold, then paying it from the wallet (`POST .../pay`), counted
//!   complete only when the payment answers `paid`. Measured: checkouts per
//!   second and the latency of a whole checkout and of each step; checked
//!   afterwards: the sale's sold units and revenue against what was paid,
//!   every buyer's wallet (grant less what they paid, nothing left
//!   reserved), the money out of the wallets against the sale's revenue,
//!   and one valid ticket per paid unit.
//! - **overload**: `--connections` clients holding on a stock sale, then ten
//!   times as many (`--overload-factor`), then the first number again: every
//!   answer must be a hold, a correct refusal, or `429`/`503` with
//!   `Retry-After` (honoured); measured: the latency of admitted requests, the
//!   server's peak memory, and how soon the normal rate is back. With
//!   `--waiting-room` the crowd joins a waiting room and asks `queue/me` back
//!   to back while the first admitted buy.
//!
//! Each connection is one tokio task on one keep-alive HTTP/1.1 connection,
//! issuing requests back to back (the queue scenario leases connections from a
//! bounded pool instead, one request at a time). A request that got a `503` or
//! no answer is retried under one policy (`retry.rs`: the same idempotency
//! key, a bounded backoff or the server's `Retry-After`, bounded attempts,
//! never past the deadline), every attempt counted. With `--acked-out`
//! every acknowledged outcome is written as a JSON line, which
//! `--verify-acked` later checks against the server (for example after a
//! crash and restart).
//!
//! Apart from the scenarios, [`torture()`] (`stampede torture`) runs the
//! `stampede` binary's own server, SIGKILLs and restarts it under concurrent
//! clients and checks their whole history against a model (`torture/`).
//!
//! The `stampede` binary flattens [`BenchArgs`] into its `bench` subcommand,
//! calls [`execute`] (or [`run`] / [`verify_acked`]), prints the `report()` and
//! then the `line()` as the last line of stdout.

mod acked;
mod api;
mod check;
mod error;
mod http;
mod pool;
mod pow;
mod progress;
mod retry;
mod room;
mod scenario;
mod seatmap;
mod stats;
mod summary;
mod torture;
mod verify;
mod ws;

use std::path::{Path, PathBuf};

pub use acked::{Ack, AckRecord, read_acked};
pub use error::BenchError;
pub use summary::{ServerCpu, Summary, VerifyReport, Window};
pub use torture::{TortureArgs, TortureReport, run as torture};

/// Command-line arguments of `stampede bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Server base URL (plain HTTP)
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,

    /// What to measure
    #[arg(long, value_enum, default_value = "ping")]
    pub scenario: Scenario,

    /// Load duration in seconds (drop: upper bound; it ends when every user clicked;
    /// queue: upper bound of each phase, at least 60 s, plus the nominal admission time after opening;
    /// seats: upper bound of the rush, at least 60 s; it ends when every user is done)
    #[arg(long, default_value_t = 10)]
    pub duration: u64,

    /// Concurrent keep-alive connections, each issuing requests back to back
    #[arg(long, default_value_t = 256)]
    pub connections: usize,

    /// Virtual users to create (stock, drop, queue, seats) [default: 1000; seats: 20000]
    /// (0: the scenario's default)
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub users: u32,

    /// Units in the stock sale (stock, overload, checkout)
    #[arg(long, default_value_t = 100_000_000)]
    pub stock: u64,

    /// Per-person limit of the stock sale (checkout: at most 500, what a
    /// buyer's ticket listing shows)
    #[arg(long, default_value_t = 1_000_000)]
    pub limit: u32,

    /// Units per hold (stock, checkout)
    #[arg(long, default_value_t = 1)]
    pub quantity: u32,

    /// Winners of the drop
    #[arg(long, default_value_t = 100)]
    pub winners: u32,

    /// Stock: confirm each hold right after it is granted
    #[arg(long)]
    pub confirm: bool,

    /// Queue: units in the sale [default: half the users, so it sells out part way]
    #[arg(long)]
    pub queue_stock: Option<u64>,

    /// Queue: people admitted per chunk
    #[arg(long, default_value_t = 1000)]
    pub chunk_size: u32,

    /// Queue: seconds between chunks (0.05..=3600)
    #[arg(long, default_value_t = 0.1)]
    pub chunk_seconds: f64,

    /// Queue: proof-of-work difficulty of joining (0..=28 leading zero bits)
    #[arg(long, default_value_t = 8)]
    pub pow_bits: u8,

    /// Queue: spread the WebSockets over the source addresses 127.0.0.1..=127.0.0.N
    /// (when the target is on IPv4 loopback)
    #[arg(long, default_value_t = 16)]
    pub ws_sources: u8,

    /// Queue: WebSocket handshakes in flight at once while opening them
    #[arg(long, default_value_t = 256)]
    pub ws_concurrency: usize,

    /// Seats: WebSockets watching the live seat map
    #[arg(long, default_value_t = 300)]
    pub viewers: usize,

    /// Seats: percentage of acknowledged holds that are confirmed
    #[arg(long, default_value_t = 50)]
    pub confirm_percent: u8,

    /// Seats: percentage of the explicit picks aimed at the same hot area (the
    /// middle of the front rows of the first sections), so that they collide
    #[arg(long, default_value_t = 30)]
    pub hot_percent: u8,

    /// Overload: the overload phase opens this many times `--connections`
    #[arg(long, default_value_t = 10)]
    pub overload_factor: usize,

    /// Overload: put a waiting room in front of the sale (admitting `--connections`
    /// people at once); the crowd joins it and asks `queue/me` back to back while
    /// the admitted buy with their passes
    #[arg(long)]
    pub waiting_room: bool,

    /// Overload: the server's resident memory must stay under this many MB
    /// (read from `GET /api/admin/stats`; unchecked when not given)
    #[arg(long)]
    pub rss_ceiling_mb: Option<u64>,

    /// Admin bearer token used to create users and the sale
    #[arg(long, env = "STAMPEDE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Write every acknowledged outcome to this file (JSON lines)
    #[arg(long)]
    pub acked_out: Option<PathBuf>,

    /// Instead of a load, check that every outcome in this file is on the server
    #[arg(long)]
    pub verify_acked: Option<PathBuf>,

    /// No progress bar
    #[arg(long)]
    pub quiet: bool,
}

impl Default for BenchArgs {
    /// The command-line defaults (handy for tests: override what matters).
    fn default() -> BenchArgs {
        BenchArgs {
            target: "http://127.0.0.1:8080".into(),
            scenario: Scenario::Ping,
            duration: 10,
            connections: 256,
            users: 0,
            stock: 100_000_000,
            limit: 1_000_000,
            quantity: 1,
            winners: 100,
            confirm: false,
            queue_stock: None,
            chunk_size: 1000,
            chunk_seconds: 0.1,
            pow_bits: 8,
            ws_sources: 16,
            ws_concurrency: 256,
            viewers: 300,
            confirm_percent: 50,
            hot_percent: 30,
            overload_factor: 10,
            waiting_room: false,
            rss_ceiling_mb: None,
            admin_token: None,
            acked_out: None,
            verify_acked: None,
            quiet: false,
        }
    }
}

/// The load scenarios.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scenario {
    /// `GET /api/ping`, no auth
    #[default]
    Ping,
    /// Holds on a stock sale, checked for overselling
    Stock,
    /// One click per user on a drop, checked for ranking errors
    Drop,
    /// A waiting room: WebSockets, a join burst, admission and buying
    Queue,
    /// Reserved seats: holds of adjacent seats watched live on the seat map
    Seats,
    /// Wallet checkouts on a priced stock sale (hold, pay), checked against
    /// the wallets, the sale's revenue and the tickets issued
    Checkout,
    /// Ten times the connections that saturate the server: shed answers with
    /// Retry-After, bounded latency and memory, recovery within seconds
    Overload,
}

impl Scenario {
    /// The command-line name: `ping`, `stock`, `drop`, `queue`, `seats`, `checkout` or `overload`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Ping => "ping",
            Scenario::Stock => "stock",
            Scenario::Drop => "drop",
            Scenario::Queue => "queue",
            Scenario::Seats => "seats",
            Scenario::Checkout => "checkout",
            Scenario::Overload => "overload",
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`execute`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A load run.
    Load(Box<Summary>),
    /// A `--verify-acked` check.
    Verify(VerifyReport),
}

impl Outcome {
    /// The human-readable report (print before [`Outcome::line`]).
    pub fn report(&self) -> String {
        match self {
            Outcome::Load(s) => s.report(),
            Outcome::Verify(v) => v.report(),
        }
    }

    /// The machine-readable last line of stdout.
    pub fn line(&self) -> String {
        match self {
            Outcome::Load(s) => s.line(),
            Outcome::Verify(v) => v.line(),
        }
    }

    /// True when no correctness check failed (a non-zero exit code otherwise
    /// is the caller's choice).
    pub fn is_clean(&self) -> bool {
        match self {
            Outcome::Load(s) => s.is_clean(),
            Outcome::Verify(v) => v.is_clean(),
        }
    }
}

/// Runs what the arguments ask for: [`verify_acked`] when `--verify-acked` is
/// given, else a load [`run`].
pub async fn execute(args: &BenchArgs) -> Result<Outcome, BenchError> {
    match &args.verify_acked {
        Some(file) => Ok(Outcome::Verify(verify_acked(args, file).await?)),
        None => Ok(Outcome::Load(Box::new(run(args).await?))),
    }
}

/// Runs one load scenario against `args.target` and checks its outcome.
///
/// Provisioning messages (user creation, the sale id) go to stderr, and so
/// does the progress bar unless `args.quiet`. `args.verify_acked` is ignored
/// here (see [`execute`]).
pub async fn run(args: &BenchArgs) -> Result<Summary, BenchError> {
    scenario::run(args).await
}

/// Checks every outcome recorded in an `--acked-out` file against the server
/// at `args.target` (the hold listing needs `args.admin_token`).
pub async fn verify_acked(args: &BenchArgs, file: &Path) -> Result<VerifyReport, BenchError> {
    verify::verify_acked(args, file).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn defaults_match_the_command_line() {
        let cli = Cli::try_parse_from(["stampede"]).unwrap();
        let d = BenchArgs::default();
        let a = cli.bench;
        assert_eq!(a.target, d.target);
        assert_eq!(a.scenario, d.scenario);
        assert_eq!(
            (a.duration, a.connections, a.users, a.stock, a.limit),
            (d.duration, d.connections, d.users, d.stock, d.limit)
        );
        assert_eq!((a.quantity, a.winners, a.confirm), (d.quantity, d.winners, d.confirm));
        assert_eq!((a.queue_stock, a.chunk_size, a.pow_bits), (d.queue_stock, d.chunk_size, d.pow_bits));
        assert_eq!(
            (a.chunk_seconds, a.ws_sources, a.ws_concurrency),
            (d.chunk_seconds, d.ws_sources, d.ws_concurrency)
        );
        assert_eq!((a.viewers, a.confirm_percent, a.hot_percent), (d.viewers, d.confirm_percent, d.hot_percent));
    }

    #[test]
    fn parses_scenarios() {
        let cli =
            Cli::try_parse_from(["stampede", "--scenario", "drop", "--users", "5", "--admin-token", "t"]).unwrap();
        assert_eq!(cli.bench.scenario, Scenario::Drop);
        assert_eq!(cli.bench.admin_token.as_deref(), Some("t"));
        assert!(Cli::try_parse_from(["stampede", "--scenario", "nope"]).is_err());
        assert_eq!(Scenario::Stock.to_string(), "stock");
        let cli = Cli::try_parse_from([
            "stampede",
            "--scenario",
            "queue",
            "--queue-stock",
            "10",
            "--chunk-size",
            "50",
            "--chunk-seconds",
            "0.5",
            "--pow-bits",
            "4",
        ])
        .unwrap();
        assert_eq!(cli.bench.scenario, Scenario::Queue);
        assert_eq!((cli.bench.queue_stock, cli.bench.chunk_size, cli.bench.pow_bits), (Some(10), 50, 4));
        assert_eq!(cli.bench.chunk_seconds, 0.5);
        assert_eq!(Scenario::Queue.to_string(), "queue");
        let cli = Cli::try_parse_from([
            "stampede",
            "--scenario",
            "seats",
            "--viewers",
            "10",
            "--confirm-percent",
            "100",
            "--hot-percent",
            "0",
        ])
        .unwrap();
        assert_eq!(cli.bench.scenario, Scenario::Seats);
        assert_eq!((cli.bench.viewers, cli.bench.confirm_percent, cli.bench.hot_percent), (10, 100, 0));
        assert_eq!(cli.bench.users, 0, "the scenario's default");
        assert_eq!(Scenario::Seats.to_string(), "seats");
        let cli = Cli::try_parse_from(["stampede", "--scenario", "checkout", "--quantity", "2"]).unwrap();
        assert_eq!((cli.bench.scenario, cli.bench.quantity), (Scenario::Checkout, 2));
        assert_eq!(Scenario::Checkout.to_string(), "checkout");
    }
}
