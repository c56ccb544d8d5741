//! Faults beyond SIGKILL, on the real binary under the bench's load:
//!
//! - **a full disk**: the data directory on a small tmpfs (needs root to
//!   mount it) fills up mid-load; writes are refused with 503 and never
//!   acknowledged, no other 5xx is answered, a restart on the still-full disk
//!   comes up (no crash loop), its read models catch up once space returns,
//!   and a restart then has every acknowledged outcome and `stampede verify`
//!   is clean;
//! - **SIGSTOP and SIGCONT**: a paused server answers nobody, serves again
//!   within seconds of SIGCONT, and the load loses and oversells nothing;
//! - **the wall clock jumping** two hours forward and back (libfaketime, with
//!   the monotonic clock left alone): no hold expires early, each expires
//!   once, when its lifetime on the steady clock is over.
//!
//! A missing prerequisite (root and `mount`, libfaketime) fails the test when
//! `CI` is set and skips it with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stampede_bench::{BenchArgs, Scenario};

const ADMIN_TOKEN: &str = "faults-test-admin";

/// `stampede serve` as a child process, killed (SIGKILL) when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    /// Starts `stampede serve` on `data` with extra environment variables and
    /// waits until it prints its address.
    fn start(data: &Path, env: &[(&str, OsString)]) -> Served {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
        cmd.args(["serve", "--data"])
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .env("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawning stampede serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("the server exited before listening").unwrap();
            if let Some(url) = line.strip_prefix("stampede listening on ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Served { child, url }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.pid()]).status().unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGKILL, as a crash would.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A stopped process is killed too; SIGKILL needs no SIGCONT.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the test when its prerequisite is there; otherwise fails under CI
/// and skips with a message elsewhere.
fn have(what: &str, missing: Option<String>) -> bool {
    let Some(why) = missing else { return true };
    if std::env::var_os("CI").is_some() {
        panic!("{what}: {why} (CI is set, so a missing prerequisite fails)");
    }
    eprintln!("SKIPPED {what}: {why}");
    false
}

/// A tmpfs mounted for the test, unmounted when dropped (after a panic
/// too). Declare it before any server on it, so the server dies first.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        let uid = Command::new("id").arg("-u").output().map_err(|e| format!("cannot run id: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("mounting a tmpfs needs root".into());
        }
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Tmpfs(path.to_owned()))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.0).status().unwrap();
        assert!(status.success(), "remounting the tmpfs with size={size} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so that a process still holding a file cannot keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn stock_load(url: &str, acked: &Path) -> BenchArgs {
    BenchArgs {
        target: url.to_owned(),
        scenario: Scenario::Stock,
        duration: 8,
        connections: 16,
        users: 64,
        stock: 1_000_000,
        limit: 1_000_000,
        quantity: 1,
        confirm: true,
        admin_token: Some(ADMIN_TOKEN.into()),
        acked_out: Some(acked.to_owned()),
        quiet: true,
        ..BenchArgs::default()
    }
}

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

/// POSTs JSON and returns the status, the problem type (if any) and `Retry-After`.
async fn post(client: &reqwest::Client, url: &str, token: &str, key: &str, body: Value) -> (u16, Value, String) {
    let res = client.post(url).bearer_auth(token).header("idempotency-key", key).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let problem = res.headers().get("content-type").is_some_and(|v| v == "application/problem+json");
    let body: Value = res.json().await.unwrap();
    if problem {
        assert_eq!(body["status"], status, "{body}");
    }
    (status, body, retry_after)
}

async fn bulk_users(client: &reqwest::Client, url: &str, count: u32, prefix: &str) -> (u16, Value, String) {
    post(
        client,
        &format!("{url}/api/admin/users/bulk"),
        ADMIN_TOKEN,
        prefix,
        json!({"count": count, "name_prefix": prefix}),
    )
    .await
}

/// `(available, held, sold)` of a stock sale as the server publishes it.
async fn numbers(client: &reqwest::Client, url: &str, sale: u64) -> (u64, u64, u64) {
    let (status, s) = get(client, &format!("{url}/api/sales/{sale}"), None).await;
    assert_eq!(status, 200, "{s}");
    let n = |k: &str| s["stock"][k].as_u64().unwrap_or_else(|| panic!("no stock.{k} in {s}"));
    (n("available"), n("held"), n("sold"))
}

fn verify_clean(data: &Path) {
    let audit = Command::new(env!("CARGO_BIN_EXE_stampede")).args(["verify", "--data"]).arg(data).output().unwrap();
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.status.success(), "stampede verify failed:\n{text}{}", String::from_utf8_lossy(&audit.stderr));
    assert!(text.contains("chain intact") && text.contains("failed=0"), "{text}");
}

/// Polls `probe` until it holds, at most `limit`: for conditions only the
/// server can tell (its readiness, its answering at all), which send no event.
async fn wait_until<F: AsyncFnMut() -> bool>(limit: Duration, what: &str, mut probe: F) -> Duration {
    let started = Instant::now();
    loop {
        if probe().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_acknowledges_nothing_false_and_a_restart_after_space_returns_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("disk");
    let disk = Tmpfs::mount(&mount, "2m");
    if !have("the full-disk test", disk.as_ref().err().cloned()) {
        return;
    }
    let disk = disk.unwrap();
    let data = mount.join("data");
    let acked = dir.path().join("acked.jsonl");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let server = Served::start(&data, &[]);
    let url = server.url.clone();
    let (status, made, _) = bulk_users(&client, &url, 1, "probe").await;
    assert_eq!(status, 201, "{made}");
    let probe_token = made["users"][0]["token"].as_str().unwrap().to_owned();

    let args = stock_load(&url, &acked);
    let load = tokio::spawn({
        let args = args.clone();
        async move { stampede_bench::run(&args).await }
    });
    // The load fills the disk: the log's commit fails, the engine stops
    // taking commands and says so on /readyz.
    let filled = wait_until(Duration::from_secs(60), "the disk filled", async || {
        client.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 503)
    })
    .await;
    eprintln!("the 2 MiB disk filled {} ms into the load", filled.as_millis());

    // Every write is refused with 503, a problem with a stable type and a Retry-After.
    let (status, body, retry) =
        post(&client, &format!("{url}/api/sales/1/holds"), &probe_token, "probe-hold", json!({"quantity": 1})).await;
    assert_eq!((status, body["type"].as_str(), retry.as_str()), (503, Some("/problems/unavailable"), "5"), "{body}");
    // The account store shares the full disk: making accounts is refused
    // with 503 (some may still fit in pages SQLite already has), never a 500.
    let mut store_full = false;
    for i in 0..20 {
        let (status, body, retry) = bulk_users(&client, &url, 500, &format!("full{i}")).await;
        match status {
            201 => {}
            503 => {
                assert_eq!((body["type"].as_str(), retry.as_str()), (Some("/problems/storage-full"), "30"), "{body}");
                store_full = true;
                break;
            }
            other => panic!("making accounts on a full disk answered {other}: {body}"),
        }
    }
    assert!(store_full, "10,000 accounts fit on a full disk");
    // Reads still answer: the sale's durable state, and the read models
    // (their projector cannot write either: a 503 to retry, never a 500).
    let (status, sale) = get(&client, &format!("{url}/api/sales/1"), None).await;
    assert_eq!(status, 200, "{sale}");
    let (status, mine) = get(&client, &format!("{url}/api/me/holds"), Some(&probe_token)).await;
    assert!(status == 200 || status == 503, "my holds on a full disk: {status} {mine}");

    let summary = load.await.unwrap().expect("the bench finishes");
    let statuses: Vec<&str> = summary.statuses.keys().map(String::as_str).collect();
    assert!(statuses.iter().all(|s| ["200", "201", "503"].contains(s)), "{statuses:?}: {}", summary.line());
    assert!(summary.statuses.get("503").is_some_and(|&n| n > 0), "{}", summary.line());
    let problems: Vec<&str> = summary.problems.keys().map(String::as_str).collect();
    assert!(problems.iter().all(|p| ["/problems/unavailable", "/problems/overloaded"].contains(p)), "{problems:?}");
    assert_eq!(summary.oversold, 0, "{}", summary.line());
    server.kill();

    // Restarted on the disk that is still full: it comes up and answers
    // (the log replays from what is there), rather than crashing in a loop.
    let mut full = Served::start(&data, &[]);
    let (status, ready) = get(&client, &format!("{}/readyz", full.url), None).await;
    assert!(status == 200 || status == 503, "{status} {ready}");
    let (status, body, _) =
        post(&client, &format!("{}/api/sales/1/holds", full.url), &probe_token, "probe-full", json!({"quantity": 1}))
            .await;
    assert!(status == 201 || status == 503, "a hold on a still-full disk: {status} {body}");
    assert!(full.still_running(), "the server died on a full disk");
    // Space returns. The read models catch up from the log by themselves
    // (the projector retries its failed writes), without a restart.
    let my_holds = format!("{}/api/me/holds", full.url);
    let (before, body) = get(&client, &my_holds, Some(&probe_token)).await;
    assert!(before == 200 || before == 503, "my holds on a full disk: {before} {body}");
    eprintln!("my holds answered {before} on the full disk after the restart");
    disk.resize("64m");
    let caught_up = wait_until(Duration::from_secs(30), "the read models caught up after space returned", async || {
        get(&client, &my_holds, Some(&probe_token)).await.0 == 200
    })
    .await;
    eprintln!("the read models answered again {} ms after space returned", caught_up.as_millis());
    full.kill();

    // A restart has every acknowledged outcome.
    let again = Served::start(&data, &[]);
    let (status, ready) = get(&client, &format!("{}/readyz", again.url), None).await;
    assert_eq!((status, ready), (200, Value::String("ready".into())));
    let records = stampede_bench::read_acked(&acked).unwrap();
    assert!(records.len() >= 200, "only {} outcomes were acknowledged before the disk filled", records.len());
    let check = BenchArgs { target: again.url.clone(), ..args };
    let report = stampede_bench::verify_acked(&check, &acked).await.unwrap();
    assert_eq!((report.checked as usize, report.missing, report.oversold), (records.len(), 0, 0), "{}", report.line());
    // And it takes commands again.
    let (status, body, _) =
        post(&client, &format!("{}/api/sales/1/holds", again.url), &probe_token, "probe-after", json!({"quantity": 1}))
            .await;
    assert_eq!(status, 201, "{body}");
    let (available, held, sold) = numbers(&client, &again.url, 1).await;
    assert_eq!(available + held + sold, 1_000_000);
    again.kill();
    verify_clean(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstop_mid_load_pauses_the_server_and_after_sigcont_it_serves_again_having_lost_nothing() {
    const STOCK: u64 = 2000;
    const LIMIT: u32 = 6;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acked = dir.path().join("acked.jsonl");
    let server = Served::start(&data, &[]);
    let url = server.url.clone();
    let args = BenchArgs { stock: STOCK, limit: LIMIT, ..stock_load(&url, &acked) };
    let load = tokio::spawn({
        let args = args.clone();
        async move { stampede_bench::run(&args).await }
    });
    let client = reqwest::Client::new();
    wait_until(Duration::from_secs(60), "the load got going", async || {
        let Ok(res) = client.get(format!("{url}/api/sales/1")).send().await else { return false };
        let Ok(sale) = res.json::<Value>().await else { return false };
        sale["stock"]["held"].as_u64().unwrap_or(0) + sale["stock"]["sold"].as_u64().unwrap_or(0) >= 100
    })
    .await;

    server.signal("STOP");
    // A client with a deadline gets no answer from the paused server.
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(500)).build().unwrap();
    let paused = impatient.get(format!("{url}/api/ping")).send().await;
    assert!(paused.as_ref().is_err_and(reqwest::Error::is_timeout), "a stopped server answered: {paused:?}");
    // The pause itself: its length is the fault, not a wait for something.
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.signal("CONT");
    let back = wait_until(Duration::from_secs(5), "serving after SIGCONT", async || {
        impatient.get(format!("{url}/api/ping")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    eprintln!("served again {} ms after SIGCONT", back.as_millis());

    let summary = load.await.unwrap().expect("the bench finishes");
    // Requests in flight during the pause waited it out.
    assert!(summary.max_ms >= 2000.0, "no request saw the pause: {}", summary.line());
    assert_eq!(summary.oversold, 0, "{}", summary.line());
    let statuses: Vec<&str> = summary.statuses.keys().map(String::as_str).collect();
    assert!(statuses.iter().all(|s| ["200", "201", "409", "503", "timeout"].contains(s)), "{statuses:?}");
    let records = stampede_bench::read_acked(&acked).unwrap();
    assert!(records.len() >= 200, "only {} acknowledged outcomes", records.len());
    let report = stampede_bench::verify_acked(&args, &acked).await.unwrap();
    assert_eq!((report.checked as usize, report.missing, report.oversold), (records.len(), 0, 0), "{}", report.line());
    let (available, held, sold) = numbers(&client, &url, 1).await;
    assert_eq!(available + held + sold, STOCK);
    let held_or_sold = records.iter().filter(|r| matches!(r.what, stampede_bench::Ack::Hold { .. })).count() as u64;
    assert_eq!(held + sold, held_or_sold, "every acknowledged hold, and nothing else, is held or sold");
    server.kill();
    verify_clean(&data);
}

/// Where Debian's libfaketime is (its directory depends on the architecture).
fn libfaketime() -> Option<PathBuf> {
    let lib = std::fs::read_dir("/usr/lib").ok()?.flatten().map(|e| e.path().join("faketime/libfaketime.so.1"));
    lib.chain([PathBuf::from("/usr/lib/faketime/libfaketime.so.1")]).find(|p| p.exists())
}

/// Writes the wall clock's offset for libfaketime (read on every clock
/// call: `FAKETIME_NO_CACHE`).
fn set_wall_offset(file: &Path, offset: &str) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("{offset}\n")).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_clock_jumps_under_load_expire_no_hold_early_and_none_twice() {
    const TTL_S: u64 = 10;
    let lib = libfaketime();
    if !have("the clock-jump test", lib.is_none().then(|| "libfaketime is not installed (apt install faketime)".into()))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acked = dir.path().join("acked.jsonl");
    let offset = dir.path().join("faketime");
    set_wall_offset(&offset, "+0");
    let server = Served::start(
        &data,
        &[
            ("LD_PRELOAD", lib.unwrap().into_os_string()),
            ("FAKETIME_TIMESTAMP_FILE", offset.clone().into_os_string()),
            ("FAKETIME_NO_CACHE", "1".into()),
            // Only the wall clock jumps; the monotonic clock is the machine's.
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
        ],
    );
    let url = server.url.clone();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let (status, made, _) = bulk_users(&client, &url, 3, "clock").await;
    assert_eq!(status, 201, "{made}");
    let token = |i: usize| made["users"][i]["token"].as_str().unwrap().to_owned();
    let sale = json!({
        "kind": "stock", "title": "Ten-second holds", "description": "", "stock": 10, "price": 1000,
        "currency": "KRW", "per_person_limit": 4, "order_quantity_max": 3, "hold_seconds": TTL_S,
        "opens_at": null, "closes_at": null
    });
    let (status, created, _) = post(&client, &format!("{url}/api/sales"), ADMIN_TOKEN, "sale", sale).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_u64().unwrap();
    let (status, opened, _) =
        post(&client, &format!("{url}/api/sales/{id}/open"), ADMIN_TOKEN, "open", json!({})).await;
    assert_eq!(status, 200, "{opened}");

    // The bench's own sale (holds of an hour) under load meanwhile.
    let args = BenchArgs { confirm: false, duration: 6, connections: 8, users: 32, ..stock_load(&url, &acked) };
    let load = tokio::spawn({
        let args = args.clone();
        async move { stampede_bench::run(&args).await }
    });

    let holds = format!("{url}/api/sales/{id}/holds");
    let asked = Instant::now();
    let (status, first, _) = post(&client, &holds, &token(0), "first", json!({"quantity": 1})).await;
    assert_eq!(status, 201, "{first}");
    // Two hours forward: on the wall clock read afresh, the next command's
    // time would expire `first` (and every hold of the bench's hour).
    set_wall_offset(&offset, "+2h");
    let (status, second, _) = post(&client, &holds, &token(1), "second", json!({"quantity": 1})).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(numbers(&client, &url, id).await, (8, 2, 0), "a hold expired early after the clock jumped forward");
    // Two hours back: time still moves forward.
    set_wall_offset(&offset, "-2h");
    let (status, third, _) = post(&client, &holds, &token(2), "third", json!({"quantity": 1})).await;
    assert_eq!(status, 201, "{third}");
    // Each hold lives its ten seconds from when it was taken, by the steady clock.
    let expiry = |h: &Value| h["expires_at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_microsecond();
    let (a, b, c) = (expiry(&first), expiry(&second), expiry(&third));
    assert!(a <= b && b <= c && c - a < 60_000_000, "expiries {first} {second} {third}");
    assert_eq!(numbers(&client, &url, id).await, (7, 3, 0));

    let summary = load.await.unwrap().expect("the bench finishes");
    assert_eq!(summary.oversold, 0, "{}", summary.line());
    let records = stampede_bench::read_acked(&acked).unwrap();
    let bench_sale = summary.sale_id.unwrap();
    let (_, bench_held, _) = numbers(&client, &url, bench_sale).await;
    assert_eq!(bench_held, records.len() as u64, "every acknowledged hour-long hold is still held");

    // `first` expires when its ten seconds are over, not before, and the
    // others after it.
    wait_until(Duration::from_secs(60), "the first hold expired", async || numbers(&client, &url, id).await.1 < 3)
        .await;
    let since_first = asked.elapsed();
    assert!(since_first >= Duration::from_secs(TTL_S), "a hold expired {since_first:?} after it was asked for");
    wait_until(Duration::from_secs(60), "every hold expired", async || numbers(&client, &url, id).await.1 == 0).await;
    assert_eq!(numbers(&client, &url, id).await, (10, 0, 0), "each hold returned its unit once");
    let (status, listing) = get(&client, &format!("{url}/api/sales/{id}/holds"), Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{listing}");
    let statuses: Vec<&str> =
        listing["holds"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["expired", "expired", "expired"]);
    server.kill();
    verify_clean(&data);
}
