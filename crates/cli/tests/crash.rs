//! Crash test: SIGKILL the real server binary in the middle of a load of holds
//! and confirms, restart it on the same data, and show that every
//! acknowledged outcome is there in the status it was acknowledged with (or a
//! later one it may legally have reached), that the server has no hold nobody
//! was answered for, that a key repeated after the restart gets the original
//! answer, that nothing is oversold nor anyone over a small per-person limit,
//! and that every hash chain is intact; and that the read models caught up
//! after the restart, agree with the engine for every acknowledged command,
//! and equal what `stampede reproject` rebuilds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stampede_bench::{BenchArgs, Scenario};

const ADMIN_TOKEN: &str = "crash-test-admin";
const STOCK: u64 = 2000;
/// Small enough that every user reaches it during the load (64 users × 6
/// units stay far below the stock, so refusals are limits, never sold-out):
/// a retry that made a second hold would show as a hold nobody was answered
/// for, and would cost its user one of their few units.
const LIMIT: u32 = 6;
const USERS: u32 = 64;

/// Starts `stampede serve` and returns it with the address it printed.
fn start_server(data: &Path, listen: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", listen])
        .env("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning stampede serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(url) = line.strip_prefix("stampede listening on ") {
            break url.trim().to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_nothing_acknowledged_and_oversells_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acked = dir.path().join("acked.jsonl");
    let (mut first, url) = start_server(&data, "127.0.0.1:0");
    let listen = url.trim_start_matches("http://").to_owned();

    let args = BenchArgs {
        target: url.clone(),
        scenario: Scenario::Stock,
        duration: 8,
        connections: 16,
        users: USERS,
        stock: STOCK,
        limit: LIMIT,
        quantity: 1,
        confirm: true,
        admin_token: Some(ADMIN_TOKEN.into()),
        acked_out: Some(acked.clone()),
        quiet: true,
        ..BenchArgs::default()
    };
    let load = tokio::spawn({
        let args = args.clone();
        async move { stampede_bench::run(&args).await }
    });

    // The bench creates sale 1 in this fresh data directory. Kill the server
    // once a good number of holds are taken and most users are still below
    // their limit.
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut retried: Option<Retried> = None;
    loop {
        assert!(started.elapsed() < Duration::from_secs(60), "the load never got going");
        if let Ok(res) = client.get(format!("{url}/api/sales/1")).send().await
            && res.status().is_success()
        {
            let sale: serde_json::Value = res.json().await.unwrap();
            if retried.is_none() && sale["status"] == "open" {
                retried = Some(Retried::before_the_kill(&client, &url).await);
            }
            let taken = sale["stock"]["held"].as_u64().unwrap_or(0) + sale["stock"]["sold"].as_u64().unwrap_or(0);
            if taken >= 120 {
                break;
            }
        }
        // Polling the server's own numbers: the event we wait for is "enough
        // holds acknowledged", which only the server can tell.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL on Unix
    first.wait().unwrap();

    // Same data, same address: the bench's connections come back and retry
    // the answers they lost with the same idempotency keys.
    let data_again = data.clone();
    let (mut second, _) = tokio::task::spawn_blocking(move || start_server(&data_again, &listen)).await.unwrap();
    let retried = retried.expect("the sale existed before the kill");
    retried.after_the_restart(&client, &url).await;
    let summary = load.await.unwrap().expect("the bench finishes against the restarted server");
    assert!(summary.errors > 0, "the kill was noticed by the load: {}", summary.line());
    // Counts users acknowledged beyond the limit too.
    assert_eq!(summary.oversold, 0, "{}", summary.line());

    let records = stampede_bench::read_acked(&acked).unwrap();
    let orders = records.iter().filter(|r| matches!(r.what, stampede_bench::Ack::Order { .. })).count();
    assert!(records.len() >= 240 && orders >= 120, "only {} acknowledged outcomes ({orders} orders)", records.len());
    let report = stampede_bench::verify_acked(&args, &acked).await.unwrap();
    assert_eq!(report.checked as usize, records.len());
    assert_eq!(report.missing, 0, "{}", report.line());
    assert_eq!(report.oversold, 0, "{}", report.line());

    let sale: serde_json::Value = client.get(format!("{url}/api/sales/1")).send().await.unwrap().json().await.unwrap();
    let taken = sale["stock"]["held"].as_u64().unwrap() + sale["stock"]["sold"].as_u64().unwrap();
    assert!(taken <= STOCK, "held + sold = {taken} > stock {STOCK}");
    assert_eq!(sale["stock"]["available"].as_u64().unwrap() + taken, STOCK, "available + held + sold = stock: {sale}");

    // The read models: the organizer's figures (projections, read once they
    // show every answered command) equal the sale's own numbers.
    let stats: serde_json::Value = client
        .get(format!("{url}/api/sales/1/stats"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["held"], sale["stock"]["held"], "{stats}");
    assert_eq!(stats["sold"], sale["stock"]["sold"], "{stats}");
    // Every hold as the engine has it (the organizer's listing reads the sale task).
    let listing: serde_json::Value = client
        .get(format!("{url}/api/sales/1/holds?limit=10000"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let engine_holds: BTreeMap<u64, (u64, String)> = listing["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (h["id"].as_u64().unwrap(), (h["user_id"].as_u64().unwrap(), h["status"].as_str().unwrap().to_owned()))
        })
        .collect();

    check_statuses_and_phantoms(&records, &engine_holds, &retried);

    second.kill().unwrap();
    second.wait().unwrap();

    let views_path = stampede_views::views_path(&data);
    let incremental = {
        let views = stampede_views::Views::open(&views_path).unwrap();
        for r in &records {
            let (stampede_bench::Ack::Hold { hold, quantity } | stampede_bench::Ack::Order { hold, quantity }) = r.what
            else {
                continue;
            };
            let (row, _) = views.hold(r.sale, hold).unwrap().expect("every acknowledged hold is projected");
            assert_eq!((row.booker, u64::from(row.quantity)), (r.user, quantity));
            let (user, status) = &engine_holds[&hold];
            assert_eq!((row.booker, row.status.as_str()), (*user, status.as_str()), "hold {hold}");
            if matches!(r.what, stampede_bench::Ack::Order { .. }) {
                assert_eq!(row.status.as_str(), "confirmed");
            }
        }
        let all = views.holds_of_sale(1, 0, 100_000, None).unwrap();
        assert_eq!(all.len(), engine_holds.len(), "the projection has every hold the engine has");
        views.dump().unwrap()
    };
    let rebuilt =
        Command::new(env!("CARGO_BIN_EXE_stampede")).args(["reproject", "--data"]).arg(&data).output().unwrap();
    assert!(rebuilt.status.success(), "stampede reproject failed: {}", String::from_utf8_lossy(&rebuilt.stderr));
    let reprojected = stampede_views::Views::open(&views_path).unwrap().dump().unwrap();
    assert!(incremental.lines().count() > engine_holds.len(), "the dump lists the rows");
    assert!(incremental == reprojected, "reproject rebuilt different tables than the incremental run");
    let audit = Command::new(env!("CARGO_BIN_EXE_stampede")).args(["verify", "--data"]).arg(&data).output().unwrap();
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.status.success(), "stampede verify failed:\n{text}");
    assert!(text.contains("chain intact") && text.contains("failed=0"), "{text}");
}

/// Holds one person of the test's own took, with keys of its own, just
/// before the kill: repeated after the restart, each key must get the answer
/// it got before.
struct Retried {
    user: u64,
    token: String,
    /// Taken and confirmed before the kill: `(id, hold answer, confirm answer)`.
    confirmed: (u64, serde_json::Value, serde_json::Value),
    /// Taken before the kill, confirmed after the restart.
    held: (u64, serde_json::Value),
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = client.post(url).bearer_auth(token).header("idempotency-key", key);
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body.to_owned());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

impl Retried {
    async fn before_the_kill(client: &reqwest::Client, url: &str) -> Retried {
        let made: serde_json::Value = client
            .post(format!("{url}/api/admin/users/bulk"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({"count": 1, "name_prefix": "retry"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let user = made["users"][0]["id"].as_u64().unwrap();
        let token = made["users"][0]["token"].as_str().unwrap().to_owned();
        let holds = format!("{url}/api/sales/1/holds");
        let (status, first) = post(client, &holds, &token, "retry-a", Some(r#"{"quantity":1}"#)).await;
        assert_eq!(status, 201, "{first}");
        let a = first["id"].as_u64().unwrap();
        let (status, order) = post(client, &format!("{holds}/{a}/confirm"), &token, "retry-a-confirm", None).await;
        assert_eq!(status, 200, "{order}");
        let (status, second) = post(client, &holds, &token, "retry-b", Some(r#"{"quantity":1}"#)).await;
        assert_eq!(status, 201, "{second}");
        let b = second["id"].as_u64().unwrap();
        assert_ne!(a, b);
        Retried { user, token, confirmed: (a, first, order), held: (b, second) }
    }

    async fn after_the_restart(&self, client: &reqwest::Client, url: &str) {
        let holds = format!("{url}/api/sales/1/holds");
        let (a, first, order) = &self.confirmed;
        let again = post(client, &holds, &self.token, "retry-a", Some(r#"{"quantity":1}"#)).await;
        assert_eq!(again, (201, first.clone()), "a repeated hold key after the restart");
        let again = post(client, &format!("{holds}/{a}/confirm"), &self.token, "retry-a-confirm", None).await;
        assert_eq!(again, (200, order.clone()), "a repeated confirm key after the restart");
        let (b, second) = &self.held;
        let again = post(client, &holds, &self.token, "retry-b", Some(r#"{"quantity":1}"#)).await;
        assert_eq!(again, (201, second.clone()), "a repeated hold key after the restart");
        let (status, order) = post(client, &format!("{holds}/{b}/confirm"), &self.token, "retry-b-confirm", None).await;
        assert_eq!(
            (status, order["id"].as_u64(), order["status"].as_str()),
            (200, Some(*b), Some("confirmed")),
            "{order}"
        );
    }
}

/// Every acknowledged hold is on the server as `held` or `confirmed` (the
/// load never cancels, and holds last an hour), every acknowledged order as
/// `confirmed`; the server has no hold that nobody was answered for; and
/// each user has on the server exactly the units they were answered for.
fn check_statuses_and_phantoms(
    records: &[stampede_bench::AckRecord],
    engine_holds: &BTreeMap<u64, (u64, String)>,
    retried: &Retried,
) {
    let mut acked: BTreeMap<u64, (u64, bool)> = BTreeMap::new();
    for r in records {
        match r.what {
            stampede_bench::Ack::Hold { hold, quantity } => {
                assert_eq!(quantity, 1);
                acked.entry(hold).or_insert((r.user, false));
            }
            stampede_bench::Ack::Order { hold, .. } => acked.entry(hold).or_insert((r.user, true)).1 = true,
            stampede_bench::Ack::Click { .. } => panic!("a click in a stock sale"),
        }
    }
    acked.insert(retried.confirmed.0, (retried.user, true));
    acked.insert(retried.held.0, (retried.user, true));
    for (hold, (user, ordered)) in &acked {
        let Some((on_server, status)) = engine_holds.get(hold) else {
            panic!("acknowledged hold {hold} is not on the server");
        };
        assert_eq!(on_server, user, "hold {hold}");
        let legal: &[&str] = if *ordered { &["confirmed"] } else { &["held", "confirmed"] };
        assert!(
            legal.contains(&status.as_str()),
            "hold {hold} acknowledged {}, now {status}",
            if *ordered { "confirmed" } else { "held" }
        );
    }
    let phantoms: Vec<_> = engine_holds.keys().filter(|id| !acked.contains_key(id)).collect();
    assert!(phantoms.is_empty(), "holds on the server nobody was answered for: {phantoms:?}");
    let mut per_user: BTreeMap<u64, u32> = BTreeMap::new();
    for (user, _) in engine_holds.values() {
        *per_user.entry(*user).or_default() += 1;
    }
    assert!(per_user.values().all(|&n| n <= LIMIT), "{per_user:?}");
    // The load ran long enough after the restart for everyone to reach the limit.
    let full = per_user.values().filter(|&&n| n == LIMIT).count();
    assert!(full >= USERS as usize / 2, "only {full} users reached the limit: {per_user:?}");
}

/// A drop under the kill: every user clicks once; the clicks acknowledged
/// before the kill keep their ranks and times, a click whose answer the kill
/// lost gets its first answer when retried with its key (no second rank), and
/// the leaderboard has exactly the acknowledged clicks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_drop_keeps_every_acknowledged_rank_and_adds_none() {
    const USERS: u32 = 1000;
    const WINNERS: u32 = 100;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acked = dir.path().join("acked.jsonl");
    let (mut first, url) = start_server(&data, "127.0.0.1:0");
    let listen = url.trim_start_matches("http://").to_owned();
    let args = BenchArgs {
        target: url.clone(),
        scenario: Scenario::Drop,
        duration: 60,
        connections: 16,
        users: USERS,
        winners: WINNERS,
        admin_token: Some(ADMIN_TOKEN.into()),
        acked_out: Some(acked.clone()),
        quiet: true,
        ..BenchArgs::default()
    };
    let load = tokio::spawn({
        let args = args.clone();
        async move { stampede_bench::run(&args).await }
    });
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(60), "the load never got going");
        if let Ok(res) = client.get(format!("{url}/api/sales/1")).send().await
            && res.status().is_success()
        {
            let sale: serde_json::Value = res.json().await.unwrap();
            let clicks = sale["drop"]["clicks"].as_u64().unwrap_or(0);
            assert!(clicks < u64::from(USERS), "every user clicked before the kill");
            if clicks >= 250 {
                break;
            }
        }
        // Polling the server's own count, as in the stock test.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let data_again = data.clone();
    let (mut second, _) = tokio::task::spawn_blocking(move || start_server(&data_again, &listen)).await.unwrap();
    let summary = load.await.unwrap().expect("the bench finishes against the restarted server");
    assert!(summary.errors > 0, "the kill was noticed by the load: {}", summary.line());
    assert_eq!((summary.oversold, summary.misranked), (0, 0), "{}", summary.line());

    let records = stampede_bench::read_acked(&acked).unwrap();
    assert_eq!(records.len(), USERS as usize, "every user's click was answered");
    let report = stampede_bench::verify_acked(&args, &acked).await.unwrap();
    assert_eq!((report.checked, report.missing, report.oversold), (u64::from(USERS), 0, 0), "{}", report.line());
    // One rank per user, 1..=USERS: no retried click took a second rank.
    let mut ranks: Vec<u64> = records
        .iter()
        .map(|r| match r.what {
            stampede_bench::Ack::Click { rank, .. } => rank,
            other => panic!("not a click: {other:?}"),
        })
        .collect();
    ranks.sort_unstable();
    assert_eq!(ranks, (1..=u64::from(USERS)).collect::<Vec<_>>());
    let users: std::collections::BTreeSet<u64> = records.iter().map(|r| r.user).collect();
    assert_eq!(users.len(), USERS as usize);
    let sale: serde_json::Value = client.get(format!("{url}/api/sales/1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (sale["drop"]["clicks"].as_u64(), sale["drop"]["won"].as_u64()),
        (Some(u64::from(USERS)), Some(u64::from(WINNERS))),
        "{sale}"
    );

    second.kill().unwrap();
    second.wait().unwrap();
    let audit = Command::new(env!("CARGO_BIN_EXE_stampede")).args(["verify", "--data"]).arg(&data).output().unwrap();
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.status.success() && text.contains("failed=0"), "stampede verify failed:\n{text}");
}
