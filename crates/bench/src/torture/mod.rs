//! `stampede torture`: the black-box torture test. It runs the real
//! `stampede serve` binary on one data directory, drives it with concurrent
//! clients that record every command and answer ([`history`], [`client`]),
//! SIGKILLs it at moments drawn from a seed (some during its start, while it
//! replays the log) and starts it again on the same data, cycle after cycle.
//! At the end it checks the whole history against a model over the API
//! ([`check`]): every acknowledged outcome is there in the status it was
//! acknowledged with or a legal later one; the server has nothing nobody was
//! answered for beyond what the commands whose answers were lost could have
//! done; resent keys got their first answers; sold + held + available =
//! stock; seats are sold once; a drop's ranks are dense with no more winners
//! than it has; nobody is over a per-person limit; and `stampede verify` finds
//! the log intact (also every `--verify-every` kills, and `/readyz` before
//! every kill).
//!
//! Sales come in generations of four (a stock sale, the same behind a waiting
//! room, a seated sale, a drop), small enough to sell out; a new generation
//! starts every `--generation-cycles` kills, or sooner when a person nears the
//! 1024 keys per sale the server remembers, so that every resend is still
//! answered from memory.

mod check;
mod client;
mod history;
mod server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tokio::sync::watch;

use crate::api::Api;
use crate::error::BenchError;
use crate::http::Target;
use client::{Client, ClientStats};
use history::SaleKind;
use server::{Launch, Server};

/// Units of the stock sale: fewer than its buyers want, so it sells out.
const STOCK: u64 = 30;
/// Per-person limit of the stock sale: small, so one extra hold shows.
const STOCK_LIMIT: u32 = 3;
/// Most units per hold.
const STOCK_QUANTITY_MAX: u32 = 2;
/// Units of the sale behind the waiting room, and its per-person limit.
const ROOM_STOCK: u64 = 20;
const ROOM_LIMIT: u32 = 2;
/// Shoppers admitted at once.
const ROOM_ACTIVE_MAX: u32 = 4;
/// The seated sale: one section of 4 rows of 8.
const SEATS: u32 = 32;
const SEATS_PER_ROW: u32 = 8;
const SEAT_LIMIT: u32 = 3;
/// Winners of the drop (fewer than the clients).
const WINNERS: u64 = 5;
/// The shortest hold the API allows: holds expire during the run.
const HOLD_SECONDS: u64 = 10;
/// A new generation once someone sent this many keys to one of its sales.
const KEYS_ROTATE: u32 = 600;
/// The admin token the server is started with.
const ADMIN_TOKEN: &str = "torture-admin";

/// Command-line arguments of `stampede torture`.
#[derive(clap::Args, Debug, Clone)]
pub struct TortureArgs {
    /// Kills of the server under load
    #[arg(long, default_value_t = 20)]
    pub cycles: u32,
    /// Seed of the kill schedule and the clients' choices [default: from the clock]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Working directory (the data directory and the server's log go inside; must not exist)
    /// [default: a new directory under the system's temporary directory]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Keep the working directory even when the run passes
    #[arg(long)]
    pub keep: bool,
    /// Concurrent clients, one bulk user each
    #[arg(long, default_value_t = 12)]
    pub users: u32,
    /// Shortest load between a start and the kill, in milliseconds
    #[arg(long, default_value_t = 100)]
    pub load_ms_min: u64,
    /// Longest load between a start and the kill, in milliseconds
    #[arg(long, default_value_t = 1200)]
    pub load_ms_max: u64,
    /// Longest pause of a client between two actions, in milliseconds (drawn
    /// uniformly from 0 up to it): people pause, and it keeps the log, and so
    /// every restart's replay, from growing faster than the kills add up
    #[arg(long, default_value_t = 40)]
    pub think_ms_max: u64,
    /// Run `stampede verify` on the data every this many kills (0: only at the end)
    #[arg(long, default_value_t = 50)]
    pub verify_every: u32,
    /// Start a new generation of sales every this many kills
    #[arg(long, default_value_t = 10)]
    pub generation_cycles: u32,
    /// No progress lines
    #[arg(long)]
    pub quiet: bool,
}

impl Default for TortureArgs {
    fn default() -> TortureArgs {
        TortureArgs {
            cycles: 20,
            seed: None,
            data: None,
            keep: false,
            users: 12,
            load_ms_min: 100,
            load_ms_max: 1200,
            think_ms_max: 40,
            verify_every: 50,
            generation_cycles: 10,
            quiet: false,
        }
    }
}

/// One generation's sales.
#[derive(Debug, Clone)]
pub(crate) struct Generation {
    pub stock: u64,
    pub room: u64,
    pub seated: u64,
    pub drop: u64,
}

impl Generation {
    pub(crate) fn sale(&self, kind: SaleKind) -> u64 {
        match kind {
            SaleKind::Stock => self.stock,
            SaleKind::Room => self.room,
            SaleKind::Seated => self.seated,
            SaleKind::Drop => self.drop,
        }
    }

    async fn create(api: &mut Api, number: usize) -> Result<Generation, BenchError> {
        // Free sales: money is beside the point here, and a priced hold could
        // only be confirmed by paying for it (issue 13).
        let stock = |title: String, stock: u64, limit: u32, quantity_max: u32| {
            serde_json::json!({"kind": "stock", "title": title, "description": "",
                "stock": stock, "price": 0, "currency": "KRW", "per_person_limit": limit,
                "order_quantity_max": quantity_max, "hold_seconds": HOLD_SECONDS,
                "opens_at": null, "closes_at": null})
        };
        let plain =
            api.create_open_sale(stock(format!("torture {number} stock"), STOCK, STOCK_LIMIT, STOCK_QUANTITY_MAX));
        let stock_id = plain.await?.id;
        let mut room = stock(format!("torture {number} room"), ROOM_STOCK, ROOM_LIMIT, 1);
        room["waiting_room"] = serde_json::json!({"policy": "active", "active_max": ROOM_ACTIVE_MAX,
            "pass_seconds": HOLD_SECONDS, "pow_bits": 0, "places_per_address": 1_000_000});
        let room_id = api.create_open_sale(room).await?.id;
        let seated = serde_json::json!({"kind": "seated", "title": format!("torture {number} seated"),
            "description": "", "currency": "KRW",
            "seated": {"generate": {"name": "Hall", "sections": [{"name": "Floor", "tier": "R", "price": 0,
                "colour": "#cc3333", "rows": SEATS / SEATS_PER_ROW, "seats_per_row": SEATS_PER_ROW,
                "x": 0, "y": 0, "curve_degrees": 0.0, "spacing": 10}]},
                "per_person_limit": SEAT_LIMIT, "seats_per_hold_max": 2, "hold_seconds": HOLD_SECONDS},
            "opens_at": null, "waiting_room": null});
        let seated_id = api.create_open_sale(seated).await?.id;
        let drop = serde_json::json!({"kind": "drop", "title": format!("torture {number} drop"),
            "description": "", "winners": WINNERS, "opens_at": null, "closes_at": null});
        let drop_id = api.create_open_sale(drop).await?.id;
        Ok(Generation { stock: stock_id, room: room_id, seated: seated_id, drop: drop_id })
    }
}

/// What went wrong, counted by kind, with the first messages.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// Acknowledged outcomes missing or undone.
    pub lost: u64,
    /// More sold or held than there is, or someone over a limit.
    pub oversold: u64,
    /// Anything else the model forbids: a resend answered differently, a
    /// phantom, figures that do not add up, a failed verify.
    pub inconsistent: u64,
    pub messages: Vec<String>,
}

/// Messages kept in a report.
const MESSAGES_MAX: usize = 40;

impl Findings {
    fn note(&mut self, what: &str, message: String) {
        if self.messages.len() < MESSAGES_MAX {
            self.messages.push(format!("{what}: {message}"));
        }
    }

    pub(crate) fn lost(&mut self, message: String) {
        self.lost += 1;
        self.note("lost", message);
    }

    pub(crate) fn oversold(&mut self, message: String) {
        self.oversold += 1;
        self.note("oversold", message);
    }

    pub(crate) fn inconsistent(&mut self, message: String) {
        self.inconsistent += 1;
        self.note("inconsistent", message);
    }
}

/// What the clients and the controller share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub findings: Mutex<Findings>,
    /// The most keys one person sent to one sale (for the generation switch).
    pub keys_max: AtomicU32,
}

impl Shared {
    fn findings(&self) -> std::sync::MutexGuard<'_, Findings> {
        self.findings.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The result of a torture run.
#[derive(Debug, Clone, Default)]
pub struct TortureReport {
    pub seed: u64,
    /// Kills under load.
    pub cycles: u32,
    /// Extra kills while the server was starting (replaying its log).
    pub startup_kills: u32,
    pub generations: usize,
    /// Commands sent and answered or lost.
    pub commands: u64,
    /// Commands answered `2xx`.
    pub acked: u64,
    /// Commands answered with a refusal.
    pub refused: u64,
    /// Commands whose answer was lost and never asked for again.
    pub unknown: u64,
    /// Of those, how many the server had applied (holds and clicks found).
    pub unknown_applied: u64,
    /// Commands whose answer was lost and then answered on a retry with the same key.
    pub answered_after_loss: u64,
    /// Resends compared with their first answer.
    pub resends: u64,
    /// Keys sent again with another body (each must be refused).
    pub reused_keys: u64,
    /// `stampede verify` runs, all clean unless counted as inconsistent.
    pub verify_runs: u32,
    pub lost: u64,
    pub oversold: u64,
    pub inconsistent: u64,
    /// Refusals by sale kind, status and problem type (what the clients ran into).
    pub refusals: std::collections::BTreeMap<String, u64>,
    /// The first findings.
    pub messages: Vec<String>,
    pub duration: Duration,
    /// The size of the data directory at the end.
    pub data_bytes: u64,
    /// Where the data and the server's log are (kept on failure or with `--keep`).
    pub work_dir: Option<PathBuf>,
}

impl TortureReport {
    /// Nothing lost, oversold or inconsistent.
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.oversold == 0 && self.inconsistent == 0
    }

    /// The findings, one per line.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for (what, n) in &self.refusals {
            out.push_str(&format!("refused: {what} x{n}\n"));
        }
        for m in &self.messages {
            out.push_str(m);
            out.push('\n');
        }
        if let Some(dir) = &self.work_dir {
            out.push_str(&format!("data and server log kept in {}\n", dir.display()));
        }
        out
    }

    /// The one-line summary (the last line of stdout).
    pub fn line(&self) -> String {
        format!(
            "torture seed={} cycles={} startup_kills={} generations={} commands={} acked={} refused={} unknown={} \
             unknown_applied={} answered_after_loss={} resends={} reused_keys={} verify_runs={} lost={} oversold={} \
             inconsistent={} data_mb={:.1} duration_s={:.1}",
            self.seed,
            self.cycles,
            self.startup_kills,
            self.generations,
            self.commands,
            self.acked,
            self.refused,
            self.unknown,
            self.unknown_applied,
            self.answered_after_loss,
            self.resends,
            self.reused_keys,
            self.verify_runs,
            self.lost,
            self.oversold,
            self.inconsistent,
            self.data_bytes as f64 / 1e6,
            self.duration.as_secs_f64()
        )
    }
}

/// A seed from the clock, when none is given.
fn clock_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Runs the torture against `exe serve` (the `stampede` binary). Prints the
/// seed first and, unless quiet, a progress line every ten kills.
pub async fn run(args: &TortureArgs, exe: &Path) -> Result<TortureReport, BenchError> {
    if args.users == 0 || args.cycles == 0 || args.load_ms_min > args.load_ms_max {
        return Err(BenchError::InvalidArgs("need --users and --cycles above 0 and load-ms-min <= load-ms-max".into()));
    }
    let started = std::time::Instant::now();
    let seed = args.seed.unwrap_or_else(clock_seed);
    println!("torture seed {seed} (rerun the same schedule with --seed {seed})");
    let work = match &args.data {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("stampede-torture-{seed}-{}", std::process::id())),
    };
    if work.exists() {
        return Err(BenchError::InvalidArgs(format!("{} exists; the torture needs a new directory", work.display())));
    }
    std::fs::create_dir_all(&work).map_err(|e| BenchError::Internal(format!("creating {}: {e}", work.display())))?;
    let launch = Launch {
        exe: exe.to_owned(),
        data: work.join("data"),
        log: work.join("server.log"),
        admin_token: ADMIN_TOKEN.to_owned(),
    };
    let mut report = TortureReport { seed, ..TortureReport::default() };
    let result = torture(args, &launch, seed, &mut report).await;
    report.duration = started.elapsed();
    report.data_bytes = server::dir_bytes(&launch.data);
    result?;
    if report.passed() && !args.keep {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        report.work_dir = Some(work);
    }
    Ok(report)
}

async fn torture(args: &TortureArgs, launch: &Launch, seed: u64, report: &mut TortureReport) -> Result<(), BenchError> {
    let started = std::time::Instant::now();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (mut server, url) = server::start(launch, "127.0.0.1:0").await?;
    let listen = url.trim_start_matches("http://").to_owned();
    let target = Arc::new(Target::resolve(&url).await?);
    let mut api = Api::new(target.clone(), Some(ADMIN_TOKEN))?;
    let users = api.bulk_users(args.users, |_| {}).await?;
    let mut generations = vec![Generation::create(&mut api, 0).await?];
    let (generation_tx, generation_rx) = watch::channel(Arc::new(generations[0].clone()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared::default());
    let clients: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            let client = Client::new(
                i,
                user.clone(),
                target.clone(),
                seed,
                Duration::from_millis(args.think_ms_max),
                generation_rx.clone(),
                stop_rx.clone(),
                shared.clone(),
            );
            tokio::spawn(client.run())
        })
        .collect();

    let mut since_rotation = 0;
    for cycle in 1..=args.cycles {
        if since_rotation >= args.generation_cycles || shared.keys_max.load(Ordering::Relaxed) >= KEYS_ROTATE {
            generations.push(Generation::create(&mut api, generations.len()).await?);
            shared.keys_max.store(0, Ordering::Relaxed);
            since_rotation = 0;
            let _ = generation_tx.send(Arc::new(generations[generations.len() - 1].clone()));
        }
        since_rotation += 1;
        // The kill moment: the schedule comes from the seed; what is in
        // flight at that moment depends on timing.
        let load = Duration::from_millis(rng.random_range(args.load_ms_min..=args.load_ms_max));
        tokio::time::sleep(load).await;
        let g = generations[generations.len() - 1].clone();
        check::live_figures(&mut api, &g, &shared).await?;
        server.kill()?;
        report.cycles = cycle;
        if args.verify_every > 0 && cycle % args.verify_every == 0 {
            report.verify_runs += 1;
            if let Some(text) = server::verify(launch).await? {
                shared.findings().inconsistent(format!("stampede verify after kill {cycle}:\n{text}"));
            }
        }
        // One time in eight, kill it again while it starts (replaying the log).
        if rng.random_ratio(1, 8) {
            let early = Server::spawn(launch, &listen)?;
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..=150))).await;
            early.kill()?;
            report.startup_kills += 1;
        }
        server = server::start(launch, &listen).await?.0;
        if !args.quiet && cycle % 10 == 0 {
            let f = shared.findings();
            println!(
                "kill {cycle}/{}: generation {}, lost={} oversold={} inconsistent={} ({:.0} s)",
                args.cycles,
                generations.len(),
                f.lost,
                f.oversold,
                f.inconsistent,
                started.elapsed().as_secs_f64()
            );
        }
    }

    // The last start is up: let the clients finish what they have in flight.
    let _ = stop_tx.send(true);
    let mut history = Vec::new();
    let mut stats = ClientStats::default();
    for client in clients {
        let (sent, s) = client.await.map_err(|e| BenchError::Internal(format!("a client panicked: {e}")))??;
        history.extend(sent);
        stats.resends += s.resends;
        stats.reused_keys += s.reused_keys;
        stats.answered_after_loss += s.answered_after_loss;
    }
    let applied = check::final_state(&mut api, &users, &generations, &history, &shared).await?;
    server.kill()?;
    report.verify_runs += 1;
    if let Some(text) = server::verify(launch).await? {
        shared.findings().inconsistent(format!("stampede verify at the end:\n{text}"));
    }

    report.generations = generations.len();
    report.commands = history.len() as u64;
    report.acked = history.iter().filter(|s| s.acked().is_some()).count() as u64;
    report.unknown = history.iter().filter(|s| s.unknown()).count() as u64;
    report.refused = report.commands - report.acked - report.unknown;
    report.unknown_applied = applied;
    for s in &history {
        if let Some(a) = s.answered().filter(|a| !a.acked()) {
            let what = format!("{} {} {}", s.kind.name(), a.status, a.problem.as_deref().unwrap_or("-"));
            *report.refusals.entry(what).or_default() += 1;
        }
    }
    report.answered_after_loss = stats.answered_after_loss;
    report.resends = stats.resends;
    report.reused_keys = stats.reused_keys;
    let f = shared.findings();
    report.lost = f.lost;
    report.oversold = f.oversold;
    report.inconsistent = f.inconsistent;
    report.messages = f.messages.clone();
    Ok(())
}
