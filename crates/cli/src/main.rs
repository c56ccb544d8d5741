//! The `stampede` binary: command-line parsing and glue, nothing else.
//! `serve` runs the server, `bench` the load generator, `verify` audits a
//! data directory's log or a downloaded public log, `verify-receipt` proves a
//! receipt against a public log, `reproject` rebuilds its read models, `backup` copies a data directory while it is served,
//! `admin` manages accounts offline, `sim` runs the deterministic simulator,
//! `torture` SIGKILLs and restarts this binary's own server under load and checks the history,
//! `gateway-sandbox` runs the sandbox payment gateway.

mod demo;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use stampede_engine::EngineConfig;
use stampede_log::CommandLog;
use stampede_server::{App, AppParts, CONNECTIONS_MAX_DEFAULT, EdgeLimits, ServerConfig};

// A rush allocates and frees many small buffers on every core at once
// (requests, frames, log records); glibc's allocator spent several percent of
// the server's time consolidating and locking under that load, mimalloc's
// per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "stampede", version, about = "Fast, fair ticketing and flash sales")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// How log lines are written to standard error: `text` for people,
    /// `json` (one object per line) for a log collector.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Switch {
    On,
    Off,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (embedded SQLite, no other service needed).
    Serve(ServeArgs),
    /// Load-test a running server and check its answers.
    Bench(stampede_bench::BenchArgs),
    /// Replay a data directory's log (`--data`), or a sale's public log
    /// downloaded from `GET /api/sales/{id}/log` (`--log FILE`, no secret
    /// needed), from the start and check every hash link, every recorded
    /// outcome (the waiting room's shuffle included) and every invariant.
    Verify {
        #[arg(long, default_value = "stampede-data", conflicts_with = "log")]
        data: PathBuf,
        /// A downloaded public log file ("-" for standard input).
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Prove a signed receipt against a sale's downloaded public log: the
    /// signature, an intact chain, and the receipt's entry with its time,
    /// sender and outcome.
    VerifyReceipt {
        /// The receipt: a file holding its JSON or the `stampede-receipt`
        /// header's value ("-" for standard input).
        receipt: PathBuf,
        /// The sale's public log file.
        #[arg(long)]
        log: PathBuf,
        /// The signer's public key (base64url), from the server's
        /// `/.well-known/stampede/receipt-key`; without it the key in the
        /// receipt is trusted, which proves inclusion but not who signed.
        #[arg(long)]
        key: Option<String>,
    },
    /// Rebuild every read model (views.sqlite: holds, orders, seats, statistics,
    /// drop results) from the log alone. Run it while the server is stopped.
    Reproject {
        #[arg(long, default_value = "stampede-data")]
        data: PathBuf,
    },
    /// Copy a data directory into a new one, consistently, even while a server
    /// runs on it (SQLite's online backup API; never copy a live directory with `cp`).
    Backup {
        #[arg(long, default_value = "stampede-data")]
        data: PathBuf,
        /// The directory to create: a complete data directory (`serve --data`, `verify --data`).
        #[arg(long)]
        to: PathBuf,
    },
    /// Recompute a waiting room's pre-queue order from its revealed seed, to
    /// check the line independently of the server (docs/API.md, "Waiting room").
    QueueOrder {
        /// The seed the sale revealed at opening (64 hex digits).
        #[arg(long)]
        seed: String,
        /// The commitment published at creation; checked against the seed if given.
        #[arg(long)]
        commitment: Option<String>,
        /// How many joined before opening (`prequeue_len`).
        #[arg(long)]
        count: u32,
        /// Print only this ticket's place.
        #[arg(long)]
        ticket: Option<u32>,
    },
    /// Run the deterministic simulator: the engine on a virtual clock and an
    /// in-memory log, with random clients, faults and crashes, checked after
    /// every step. A failure prints its seed and a shrunk trace.
    Sim {
        /// The first seed to run.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Operations per seed.
        #[arg(long, default_value_t = 1000)]
        steps: usize,
        /// How many seeds to run, from `--seed` on.
        #[arg(long, default_value_t = 1)]
        seeds: u64,
    },
    /// Run this binary's server under concurrent clients, SIGKILL it at random
    /// moments and restart it on the same data, then check every recorded
    /// answer against what the server shows (and `verify` its log).
    Torture(stampede_bench::TortureArgs),
    /// Run the sandbox payment gateway (Toss Payments' API shape, in memory):
    /// checkout page, confirm/status/cancel, signed webhooks, seeded faults.
    GatewaySandbox(GatewaySandboxArgs),
    /// Account administration on a data directory (run it while the server is stopped).
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Directory for the log and the account store.
    #[arg(long, default_value = "stampede-data")]
    data: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seed demo accounts and sales (only into an empty data directory) and print how to log in.
    #[arg(long)]
    demo: bool,
    /// Most connections open at once [default: the open-file limit, once
    /// raised to its hard limit, less what the server's own files need].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Most requests answered at once; beyond it a request gets 503 with Retry-After at once.
    #[arg(long, default_value_t = EdgeLimits::default().requests_in_flight_max)]
    max_in_flight: usize,
    /// Fewest log entries between two snapshots of a sale (the gap also grows with the log).
    #[arg(long, default_value_t = EngineConfig::default().snapshot_every)]
    snapshot_every: u64,
    /// Seconds a client has to send a request head (also ends idle keep-alive connections).
    #[arg(long, default_value_t = EdgeLimits::default().header_read_max.as_secs())]
    header_read_max_s: u64,
    /// Seconds a request body may take before the minimum rate applies.
    #[arg(long, default_value_t = EdgeLimits::default().body_grace.as_secs())]
    body_grace_s: u64,
    /// Slowest average rate a request body may arrive at after the grace (bytes per second).
    #[arg(long, default_value_t = EdgeLimits::default().body_rate_min_bytes_per_s)]
    body_rate_min_bytes_per_s: u32,
    /// Seconds a whole request body may take, however fast it goes.
    #[arg(long, default_value_t = EdgeLimits::default().body_read_max.as_secs())]
    body_read_max_s: u64,
    /// Seconds a connection may neither read nor write before it is closed.
    #[arg(long, default_value_t = EdgeLimits::default().idle_max.as_secs())]
    idle_max_s: u64,
    /// The URL people reach the server at, e.g. https://tickets.example.com behind a
    /// TLS proxy; when it is https the session cookie is marked Secure.
    #[arg(long, env = "STAMPEDE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Operator token accepted as an admin bearer token.
    #[arg(long, env = "STAMPEDE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Record Prometheus metrics and serve them at GET /metrics; `off` records
    /// nothing at all (to measure what recording costs).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    metrics: Switch,
    /// Take card payments through this gateway (Toss Payments' API at an
    /// http:// address, e.g. `stampede gateway-sandbox`'s). With `--demo`
    /// and no gateway, a sandbox gateway runs inside the server.
    #[arg(long, env = "STAMPEDE_GATEWAY_URL")]
    gateway_url: Option<String>,
    /// The gateway's secret key (basic auth).
    #[arg(long, env = "STAMPEDE_GATEWAY_SECRET_KEY", hide_env_values = true, default_value = "test_sk_sandbox")]
    gateway_secret_key: String,
    /// The secret the gateway signs its webhooks with.
    #[arg(long, env = "STAMPEDE_GATEWAY_WEBHOOK_SECRET", hide_env_values = true, default_value = "whsec_sandbox")]
    gateway_webhook_secret: String,
}

#[derive(clap::Args)]
struct GatewaySandboxArgs {
    /// Port to listen on (127.0.0.1); 0 picks a free one.
    #[arg(long, default_value_t = 8090)]
    port: u16,
    /// Fixes every fault decision and every payment key.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Percent of confirmations declined.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    decline_pct: u8,
    /// Percent of webhooks sent twice.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    duplicate_pct: u8,
    /// Percent of webhooks held back until after the payment's next one.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    reorder_pct: u8,
    /// Seconds after start when an outage begins (with --outage-s).
    #[arg(long, default_value_t = 0)]
    outage_after_s: u64,
    /// Length of the outage in seconds (0: none).
    #[arg(long, default_value_t = 0)]
    outage_s: u64,
    /// During an outage, answer nothing (the caller times out) instead of 503.
    #[arg(long)]
    outage_hang: bool,
    /// Milliseconds added before every API answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Seconds a buyer-approved payment waits for its confirmation.
    #[arg(long, default_value_t = 600)]
    confirm_window_s: u64,
    /// Where webhooks are POSTed (http://…); none: no webhooks.
    #[arg(long)]
    webhook_url: Option<String>,
    /// The secret key the API accepts.
    #[arg(long, env = "STAMPEDE_GATEWAY_SECRET_KEY", default_value = "test_sk_sandbox", hide_env_values = true)]
    secret_key: String,
    /// The shared secret webhooks are signed with.
    #[arg(long, env = "STAMPEDE_GATEWAY_WEBHOOK_SECRET", default_value = "whsec_sandbox", hide_env_values = true)]
    webhook_secret: String,
}

async fn gateway_sandbox(args: GatewaySandboxArgs) -> anyhow::Result<()> {
    use stampede_gateway::sandbox::{FaultRates, OutageMode, OutageWindow, Sandbox, SandboxConfig};
    let config = SandboxConfig {
        secret_key: args.secret_key,
        webhook_secret: args.webhook_secret,
        webhook_url: args.webhook_url,
        seed: args.seed,
        faults: FaultRates {
            decline_pct: args.decline_pct,
            duplicate_pct: args.duplicate_pct,
            reorder_pct: args.reorder_pct,
        },
        outage: (args.outage_s > 0).then(|| OutageWindow {
            after: std::time::Duration::from_secs(args.outage_after_s),
            length: std::time::Duration::from_secs(args.outage_s),
        }),
        outage_mode: if args.outage_hang { OutageMode::Hang } else { OutageMode::Refuse },
        latency: std::time::Duration::from_millis(args.latency_ms),
        confirm_window: std::time::Duration::from_secs(args.confirm_window_s),
        ..SandboxConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    let sandbox = Sandbox::start(config);
    // Scripts and tests read this line to learn the port.
    println!("gateway sandbox listening on http://{addr}");
    sandbox.serve(listener, shutdown_signal()).await?;
    Ok(())
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Create an account with a role (participant, organizer, admin).
    CreateUser {
        #[arg(long, default_value = "stampede-data")]
        data: PathBuf,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The password (or set STAMPEDE_NEW_PASSWORD to keep it out of the process list).
        #[arg(long, env = "STAMPEDE_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "participant")]
        role: String,
    },
}

/// Runs seeds `seed..seed + seeds`; stops at the first failure, shrunk.
fn sim(seed: u64, steps: usize, seeds: u64) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    for s in seed..seed.saturating_add(seeds) {
        match stampede_sim::run(s, steps) {
            Ok(report) if seeds == 1 => println!("seed {s}: {} steps passed: {:?}", report.steps, report.stats),
            Ok(_) => {
                let done = s - seed + 1;
                if done.is_multiple_of(100) || done == seeds {
                    println!("{done} seeds x {steps} steps passed ({:.1} s)", started.elapsed().as_secs_f64());
                }
            }
            Err(shrunk) => {
                print!("{shrunk}");
                bail!("seed {s} failed");
            }
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        // One JSON object per line: the event's fields, its span (a request's
        // `request_id`) and the list of spans it is in.
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(true).init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    match cli.cmd {
        Cmd::Serve(args) => runtime.block_on(serve(args)),
        Cmd::Bench(args) => runtime.block_on(bench(args)),
        Cmd::Verify { data, log: None } => verify(&data),
        Cmd::Verify { log: Some(file), .. } => verify_public_log(&file),
        Cmd::VerifyReceipt { receipt, log, key } => verify_receipt(&receipt, &log, key.as_deref()),
        Cmd::Reproject { data } => reproject(&data),
        Cmd::Backup { data, to } => backup(&data, &to),
        Cmd::Sim { seed, steps, seeds } => sim(seed, steps, seeds),
        Cmd::Torture(args) => runtime.block_on(torture(args)),
        Cmd::GatewaySandbox(args) => runtime.block_on(gateway_sandbox(args)),
        Cmd::QueueOrder { seed, commitment, count, ticket } => queue_order(&seed, commitment.as_deref(), count, ticket),
        Cmd::Admin { cmd: AdminCmd::CreateUser { data, email, name, password, role } } => {
            std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            let store = stampede_store::Store::open(&data.join("store.sqlite"))?;
            let role: stampede_store::Role = role.parse()?;
            let user = store.sign_up(&email, &password, &name, role)?;
            println!("created user id={} email={} role={}", user.id.0, user.email, user.role.as_str());
            Ok(())
        }
    }
}

fn queue_order(seed: &str, commitment: Option<&str>, count: u32, ticket: Option<u32>) -> anyhow::Result<()> {
    use stampede_engine::record::unhex32;
    let Some(seed) = unhex32(seed.trim()) else { bail!("--seed must be 64 hex digits") };
    if let Some(c) = commitment {
        let Some(c) = unhex32(c.trim()) else { bail!("--commitment must be 64 hex digits") };
        if stampede_core::commitment(&seed) != c {
            bail!("the seed does not match the commitment: blake3(seed) differs");
        }
        println!("commitment ok");
    }
    let order = stampede_core::prequeue_order(&seed, count);
    match ticket {
        Some(t) => match order.iter().position(|x| *x == t) {
            Some(i) => println!("ticket {t} place {}", i + 1),
            None => bail!("ticket {t} is not in a pre-queue of {count}"),
        },
        None => {
            for (i, t) in order.iter().enumerate() {
                println!("place {} ticket {t}", i + 1);
            }
        }
    }
    Ok(())
}

/// Raises the open-file soft limit to the hard limit (every connection is a
/// descriptor) and returns the limit now in force.
fn raise_nofile_limit() -> Option<u64> {
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, hard)) => match rlimit::increase_nofile_limit(hard) {
            Ok(now) => {
                tracing::info!(soft_before = soft, hard, soft_now = now, "open-file limit");
                Some(now)
            }
            Err(e) => {
                tracing::warn!(soft, hard, error = %e, "could not raise the open-file limit");
                Some(soft)
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "could not read the open-file limit");
            None
        }
    }
}

/// The connection cap: the operator's, else what the open-file limit allows.
/// A cap above the file limit would let the kernel refuse `accept` instead.
fn connections_cap(asked: Option<usize>, open_files: Option<u64>) -> usize {
    let fits = open_files.map(stampede_server::connections_max_for_open_files);
    match (asked, fits) {
        (Some(asked), Some(fits)) if asked > fits => {
            tracing::warn!(
                asked,
                fits,
                "--max-connections is above what the open-file limit leaves for connections; \
                 connections past it will fail to be accepted"
            );
            asked
        }
        (Some(asked), _) => asked,
        (None, Some(fits)) => fits,
        (None, None) => CONNECTIONS_MAX_DEFAULT,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let connections_max = connections_cap(args.max_connections, raise_nofile_limit());
    tracing::info!(connections_max, "connection cap");
    let config = ServerConfig {
        data_dir: args.data.clone(),
        admin_token: args.admin_token.clone(),
        connections_max,
        engine: EngineConfig { snapshot_every: args.snapshot_every.max(1), ..EngineConfig::default() },
        public_url: args.public_url.clone(),
        metrics: args.metrics == Switch::On,
    };
    if let Some(url) = &args.public_url
        && !(url.starts_with("http://") || stampede_server::is_https(url))
    {
        bail!("--public-url must start with http:// or https:// (got {url:?})");
    }
    let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
    let limits = EdgeLimits {
        connections_max,
        idle_max: secs(args.idle_max_s),
        header_read_max: secs(args.header_read_max_s),
        body_grace: std::time::Duration::from_secs(args.body_grace_s),
        body_rate_min_bytes_per_s: args.body_rate_min_bytes_per_s.max(1),
        body_read_max: secs(args.body_read_max_s),
        requests_in_flight_max: args.max_in_flight.max(1),
    };
    // The binary chooses the backends: SQLite files in the data directory,
    // on the machine's wall clock read once and advanced by its monotonic
    // clock, so a jump of the wall clock while serving moves no sale's time
    // (`AnchoredClock`). (A cluster mode will choose its log and store here.)
    let parts = AppParts::sqlite(&args.data, std::sync::Arc::new(stampede_engine::AnchoredClock::system()))?;
    let mut app = App::from_parts(&config, parts)?;
    tracing::info!(
        sales = app.report.sales,
        entries_replayed = app.report.entries_replayed,
        from_snapshots = app.report.from_snapshots,
        took_ms = u64::try_from(app.report.replay_duration.as_millis()).unwrap_or(u64::MAX),
        data = %args.data.display(),
        "log replayed"
    );
    if args.demo {
        demo::seed(&app.state).await?;
    }
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let gateway_url = match (&args.gateway_url, args.demo) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(demo_gateway(&args, &public_url).await?),
        (None, false) => None,
    };
    if let Some(url) = gateway_url {
        let client = stampede_gateway::Gateway::new(stampede_gateway::GatewayConfig::new(
            url.clone(),
            args.gateway_secret_key.clone(),
        ))
        .context("--gateway-url")?;
        let webhooks = stampede_gateway::WebhookVerifier::new(args.gateway_webhook_secret.clone().into_bytes());
        let link = stampede_server::routes::common::gateway_pay::GatewayLink::new(client, url, public_url, webhooks);
        app.state.gateway = Some(std::sync::Arc::new(link));
    }
    // Tests and scripts read this line to find the port.
    println!("stampede listening on http://{addr}");
    if args.demo {
        demo::print_welcome(addr);
    }
    stampede_server::serve_with_limits(listener, app.state, limits, shutdown_signal()).await?;
    tracing::info!("stopped; everything acknowledged is on disk");
    Ok(())
}

/// A sandbox gateway inside the demo server, so card payments work with
/// nothing else running; its webhooks come back to this server.
async fn demo_gateway(args: &ServeArgs, public_url: &str) -> anyhow::Result<String> {
    use stampede_gateway::sandbox::{Sandbox, SandboxConfig};
    let config = SandboxConfig {
        secret_key: args.gateway_secret_key.clone(),
        webhook_secret: args.gateway_webhook_secret.clone(),
        webhook_url: Some(format!("{public_url}/api/payments/gateway/webhook")),
        ..SandboxConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.context("binding the demo gateway")?;
    let addr = listener.local_addr()?;
    let sandbox = Sandbox::start(config);
    tokio::spawn(async move {
        if let Err(e) = sandbox.serve(listener, std::future::pending()).await {
            tracing::warn!(error = %e, "the demo gateway stopped");
        }
    });
    println!("demo payment gateway (sandbox) on http://{addr}");
    Ok(format!("http://{addr}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn bench(args: stampede_bench::BenchArgs) -> anyhow::Result<()> {
    if let Some(file) = args.verify_acked.clone() {
        let report = stampede_bench::verify_acked(&args, &file).await?;
        println!("{}", report.line());
        if report.missing > 0 || report.oversold > 0 {
            bail!("verification failed");
        }
        return Ok(());
    }
    let summary = stampede_bench::run(&args).await?;
    println!("{}", summary.report());
    for window in summary.window_lines() {
        println!("{window}");
    }
    println!("{}", summary.line());
    Ok(())
}

async fn torture(args: stampede_bench::TortureArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding this binary to run its server")?;
    let report = stampede_bench::torture(&args, &exe).await?;
    print!("{}", report.report());
    println!("{}", report.line());
    if !report.passed() {
        bail!(
            "the torture found {} lost, {} oversold, {} inconsistent",
            report.lost,
            report.oversold,
            report.inconsistent
        );
    }
    Ok(())
}

fn verify(data: &Path) -> anyhow::Result<()> {
    let path = data.join("log.sqlite");
    if !path.exists() {
        bail!("no log at {}", path.display());
    }
    let mut log = stampede_log::SqliteLog::open(&path)?;
    // With the data directory's key, sealed sales are replayed on accounts
    // (proofs of work and snapshots checked too).
    let persons = stampede_server::pass::PassKeys::load(data)?.map(|k| k.person_key().clone());
    let (mut sales, mut entries, mut failed) = (0u64, 0u64, 0u64);
    for id in log.sales()? {
        if stampede_engine::ledger::is_ledger_stream(id) {
            match stampede_engine::ledger::replay::audit(&mut log) {
                Ok(a) => {
                    entries += a.entries;
                    let accounts = a.final_state.accounts().count();
                    let net: i128 = a.final_state.accounts().map(|(_, acc)| acc.balance()).sum();
                    println!(
                        "ledger: {} entries, chain intact, outcomes reproduced, books balance (net {net}){}; {accounts} accounts, {} pending",
                        a.entries,
                        a.snapshot_checked.map(|s| format!(", snapshot at seq {s} matches")).unwrap_or_default(),
                        a.final_state.pending_len(),
                    );
                }
                Err(e) => {
                    failed += 1;
                    entries += e.checked;
                    println!("ledger: FAILED after {} entries checked: {e}", e.checked);
                }
            }
            continue;
        }
        sales += 1;
        match stampede_engine::replay::audit_with(&mut log, id, persons.as_ref()) {
            Ok(a) => {
                entries += a.entries;
                let view = a.final_state.view();
                println!(
                    "sale {id}: {} entries, chain intact, outcomes reproduced, invariants hold{}; status {}{}",
                    a.entries,
                    a.snapshot_checked.map(|s| format!(", snapshot at seq {s} matches")).unwrap_or_default(),
                    view.status.as_str(),
                    view.stock
                        .map(|s| format!(
                            ", stock {} = available {} + held {} + sold {}",
                            s.total, s.available, s.held, s.sold
                        ))
                        .unwrap_or_default(),
                );
            }
            Err(e) => {
                failed += 1;
                entries += e.checked;
                println!("sale {id}: FAILED after {} entries checked: {e}", e.checked);
            }
        }
    }
    println!("verify sales={sales} entries={entries} failed={failed}");
    if failed > 0 {
        bail!("{failed} sale(s) failed verification");
    }
    Ok(())
}

fn reproject(data: &Path) -> anyhow::Result<()> {
    let path = data.join("log.sqlite");
    if !path.exists() {
        bail!("no log at {}", path.display());
    }
    let mut log = stampede_log::SqliteLog::open(&path)?;
    let views = stampede_views::views_path(data);
    let started = std::time::Instant::now();
    let persons = stampede_server::pass::PassKeys::load(data)?.map(|k| k.person_key().clone());
    let entries = stampede_views::reproject(&mut log, &views, persons.as_ref())?;
    println!("reproject entries={entries} into {} took_ms={}", views.display(), started.elapsed().as_millis());
    Ok(())
}

/// The lines of a file, or of standard input for "-", each at most
/// [`LOG_LINE_LEN_MAX`](stampede_engine::public::LOG_LINE_LEN_MAX) long.
fn lines_of(path: &Path) -> anyhow::Result<impl Iterator<Item = Result<String, stampede_engine::public::PublicError>>> {
    use std::io::BufRead;
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        ))
    };
    let max = stampede_engine::public::LOG_LINE_LEN_MAX as u64;
    let mut reader = reader;
    let mut n = 0u64;
    // `Read::take` needs a sized reader: take from a reference to the box.
    Ok(std::iter::from_fn(move || {
        n += 1;
        let mut line = Vec::new();
        match std::io::Read::take(&mut reader, max + 1).read_until(b'\n', &mut line) {
            Ok(0) => None,
            Ok(_) if line.len() as u64 > max => Some(Err(malformed(n, "the line is too long"))),
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Some(String::from_utf8(line).map_err(|_| malformed(n, "not UTF-8")))
            }
            Err(e) => Some(Err(malformed(n, &e.to_string()))),
        }
    }))
}

fn malformed(line: u64, problem: &str) -> stampede_engine::public::PublicError {
    stampede_engine::public::PublicError::Malformed { line, problem: problem.to_owned() }
}

/// UTC time of a stamp, to the millisecond, as people read it.
fn utc(at_us: i64) -> String {
    jiff::Timestamp::from_microsecond(at_us).map(|t| format!("{t:.3}")).unwrap_or_else(|_| format!("{at_us} µs"))
}

fn verify_public_log(file: &Path) -> anyhow::Result<()> {
    use stampede_engine::public::{LogHeader, LogLine};
    let mut lines = lines_of(file)?;
    let header = LogHeader::parse(&lines.next().context("the file is empty")??)?;
    let mut verifier = stampede_engine::replay::LogVerifier::new(header.sale);
    for (n, line) in lines.enumerate() {
        let entry = LogLine::parse(&line?, n as u64 + 2)?;
        if let Err(e) = verifier.feed(&entry) {
            println!("sale {}: FAILED after {} entries checked: {e}", header.sale, e.checked);
            bail!("the log fails verification");
        }
    }
    let audit = match verifier.finish() {
        Ok(a) => a,
        Err(e) => {
            println!("sale {}: FAILED after {} entries checked: {e}", header.sale, e.checked);
            bail!("the log fails verification");
        }
    };
    let view = audit.final_state.view();
    println!(
        "sale {}: {} entries, chain intact from the first entry, every recorded outcome reproduced, invariants hold; status {}",
        header.sale,
        audit.entries,
        view.status.as_str()
    );
    if let Some(s) = view.stock {
        println!("  stock {} = available {} + held {} + sold {}", s.total, s.available, s.held, s.sold);
    }
    if let Some(q) = &view.queue {
        let seed = q.seed.map(|s| stampede_engine::record::hex(&s)).unwrap_or_else(|| "not revealed".into());
        println!(
            "  waiting room: {} joined, {} admitted; shuffle seed {seed} hashes to the commitment {} published before anyone joined; \
             {} pre-queue places were decided by it and replayed",
            q.joined,
            q.admitted,
            stampede_engine::record::hex(&q.commitment),
            q.prequeue_len.unwrap_or(0),
        );
    }
    println!(
        "  people appear as this sale's pseudonyms; proofs of work bind accounts and are taken as recorded \
         (GET /api/sales/{}/log/me tells you yours)",
        header.sale
    );
    Ok(())
}

fn verify_receipt(receipt: &Path, log: &Path, key: Option<&str>) -> anyhow::Result<()> {
    use std::io::Read;
    let mut text = String::new();
    let limit = stampede_engine::public::RECEIPT_LEN_MAX as u64 + 1;
    if receipt.as_os_str() == "-" {
        std::io::stdin().take(limit).read_to_string(&mut text)?;
    } else {
        std::fs::File::open(receipt)
            .with_context(|| format!("opening {}", receipt.display()))?
            .take(limit)
            .read_to_string(&mut text)?;
    }
    let receipt = stampede_engine::public::Receipt::parse(&text)?;
    let mut lines = lines_of(log)?;
    let proof = match stampede_engine::public::check_receipt(&receipt, key, &mut lines) {
        Ok(p) => p,
        Err(e) => {
            println!("receipt NOT proven: {e}");
            bail!("the receipt does not check against the log");
        }
    };
    let l = proof.logged;
    println!(
        "receipt proven: sale {}, entry #{} at {} (server time), sent by pseudonym {}, outcome {}",
        l.sale,
        l.seq,
        utc(l.at_us),
        l.by,
        proof.outcome
    );
    println!(
        "  signed by key {}{}; the entry is link {} of an intact chain of {} entries ending in {}",
        receipt.key,
        if key.is_some() { " (the key given)" } else { " (the receipt's own: pass --key to pin the server's)" },
        l.seq,
        proof.entries,
        stampede_engine::record::hex(&proof.tip)
    );
    Ok(())
}

/// Files of a data directory that are SQLite databases (copied with the backup
/// API) or their journals (never copied: the backup folds them in).
fn is_database_file(name: &str) -> bool {
    [".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal"].iter().any(|ext| name.ends_with(ext))
}

fn backup(data: &Path, to: &Path) -> anyhow::Result<()> {
    let log = data.join("log.sqlite");
    if !log.exists() {
        bail!("no log at {}", log.display());
    }
    if to.exists() {
        bail!("{} exists; a backup goes into a new directory", to.display());
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let started = std::time::Instant::now();
    // Snapshots before the log: each is written only once its entry is durable,
    // so the log copied after them has the entry of every copied snapshot (one
    // ahead of the log would make the copy refuse to start).
    let snapshots = stampede_log::snapshots_path(&log);
    if snapshots.exists() {
        let name = snapshots.file_name().unwrap_or_default();
        stampede_log::backup_database(&snapshots, &to.join(name)).context("copying the snapshots")?;
    }
    // The log next: the store copied after it knows every account the log names.
    stampede_log::backup_database(&log, &to.join("log.sqlite")).context("copying the log")?;
    let store = data.join("store.sqlite");
    if store.exists() {
        stampede_log::backup_database(&store, &to.join("store.sqlite")).context("copying the account store")?;
    }
    // The rest (the pass signing key) is small and written once.
    for file in std::fs::read_dir(data).with_context(|| format!("reading {}", data.display()))? {
        let file = file?;
        let name = file.file_name();
        if file.file_type()?.is_file() && !is_database_file(&name.to_string_lossy()) {
            std::fs::copy(file.path(), to.join(&name))
                .with_context(|| format!("copying {}", name.to_string_lossy()))?;
        }
    }
    // A quick look at what was copied: every sale's hash chain (the full audit is `verify`).
    let mut copy = stampede_log::SqliteLog::open(&to.join("log.sqlite"))?;
    let (mut sales, mut entries) = (0u64, 0u64);
    for id in copy.sales()? {
        let ledger = stampede_engine::ledger::is_ledger_stream(id);
        let report = copy.verify_chain(id).with_context(|| {
            if ledger {
                "the copy of the ledger is not intact".to_owned()
            } else {
                format!("the copy of sale {id} is not intact")
            }
        })?;
        sales += u64::from(!ledger);
        entries += report.entries;
    }
    println!(
        "backup to={} sales={sales} entries={entries} chains_intact=true took_ms={}",
        to.display(),
        started.elapsed().as_millis()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_follows_the_open_file_limit_unless_the_operator_sets_one() {
        assert_eq!(connections_cap(None, Some(20_000)), 20_000 - stampede_server::OPEN_FILES_RESERVED as usize);
        assert_eq!(connections_cap(None, Some(1_048_576)), 1_048_576 - 256);
        // A tiny limit still leaves a few connections.
        assert_eq!(connections_cap(None, Some(100)), 16);
        assert_eq!(connections_cap(Some(500), Some(20_000)), 500);
        assert_eq!(connections_cap(Some(50_000), Some(20_000)), 50_000);
        assert_eq!(connections_cap(None, None), CONNECTIONS_MAX_DEFAULT);
    }
}
