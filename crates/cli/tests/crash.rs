//! Crash test: SIGKILL the real server binary in the middle of a load, restart
//! it on the same data, and show that every acknowledged outcome is there,
//! nothing is oversold, and every hash chain is intact; and that the read
//! models caught up after the restart, agree with the engine for every
//! acknowledged command, and equal what `stampede reproject` rebuilds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stampede_bench::{BenchArgs, Scenario};

const ADMIN_TOKEN: &str = "crash-test-admin";
const STOCK: u64 = 2000;

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
        users: 64,
        stock: STOCK,
        limit: 1_000_000,
        quantity: 1,
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
    // once a good number of holds are acknowledged and the sale is not yet sold out.
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(60), "the load never got going");
        if let Ok(res) = client.get(format!("{url}/api/sales/1")).send().await
            && res.status().is_success()
        {
            let sale: serde_json::Value = res.json().await.unwrap();
            if sale["stock"]["held"].as_u64().unwrap_or(0) >= 300 {
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
    let summary = load.await.unwrap().expect("the bench finishes against the restarted server");
    assert!(summary.errors > 0, "the kill was noticed by the load: {}", summary.line());
    assert_eq!(summary.oversold, 0, "{}", summary.line());

    let records = stampede_bench::read_acked(&acked).unwrap();
    assert!(records.len() >= 300, "only {} acknowledged outcomes recorded", records.len());
    let report = stampede_bench::verify_acked(&args, &acked).await.unwrap();
    assert_eq!(report.checked as usize, records.len());
    assert_eq!(report.missing, 0, "{}", report.line());
    assert_eq!(report.oversold, 0, "{}", report.line());

    let sale: serde_json::Value = client.get(format!("{url}/api/sales/1")).send().await.unwrap().json().await.unwrap();
    let taken = sale["stock"]["held"].as_u64().unwrap() + sale["stock"]["sold"].as_u64().unwrap();
    assert!(taken <= STOCK, "held + sold = {taken} > stock {STOCK}");
    assert!(records.len() as u64 <= STOCK);

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
    let engine_holds: std::collections::BTreeMap<u64, (u64, String)> = listing["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (h["id"].as_u64().unwrap(), (h["user_id"].as_u64().unwrap(), h["status"].as_str().unwrap().to_owned()))
        })
        .collect();

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
    assert!(incremental.lines().count() > records.len(), "the dump lists the rows");
    assert!(incremental == reprojected, "reproject rebuilt different tables than the incremental run");
    let audit = Command::new(env!("CARGO_BIN_EXE_stampede")).args(["verify", "--data"]).arg(&data).output().unwrap();
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.status.success(), "stampede verify failed:\n{text}");
    assert!(text.contains("chain intact") && text.contains("failed=0"), "{text}");
}
