//! `stampede backup` copies a data directory while the server keeps committing
//! to it, and the copy is a data directory `verify` accepts; `verify` says how
//! far it got in a sale it rejects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use stampede_bench::{BenchArgs, Scenario};

const ADMIN_TOKEN: &str = "backup-test-admin";

fn start_server(data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["serve", "--listen", "127.0.0.1:0", "--snapshot-every", "200", "--data"])
        .arg(data)
        .env("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning stampede serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(url) = line.strip_prefix("stampede listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

fn verify(data: &Path) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stampede")).args(["verify", "--data"]).arg(data).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

fn backup(data: &Path, to: &Path) -> (Output, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.args(["backup", "--data"]).arg(data).arg("--to").arg(to);
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_verifies_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, url) = start_server(&data);
    let args = BenchArgs {
        target: url.clone(),
        scenario: Scenario::Stock,
        duration: 4,
        connections: 16,
        users: 64,
        stock: 1_000_000,
        limit: 1_000_000,
        quantity: 1,
        admin_token: Some(ADMIN_TOKEN.into()),
        quiet: true,
        ..BenchArgs::default()
    };
    let load = tokio::spawn(async move { stampede_bench::run(&args).await });

    // Wait until holds are being committed, then copy while they still are.
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(std::time::Instant::now() < deadline, "the load never got going");
        if let Ok(res) = client.get(format!("{url}/api/sales/1")).send().await
            && res.status().is_success()
        {
            let sale: serde_json::Value = res.json().await.unwrap();
            if sale["stock"]["held"].as_u64().unwrap_or(0) >= 500 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let copy = dir.path().join("copy");
    let (out, text) = tokio::task::spawn_blocking({
        let (data, copy) = (data.clone(), copy.clone());
        move || backup(&data, &copy)
    })
    .await
    .unwrap();
    assert!(out.status.success(), "backup failed:\n{text}");
    assert!(text.contains("chains_intact=true"), "{text}");
    let summary = load.await.unwrap().expect("the load ran");
    assert_eq!(summary.errors, 0, "{}", summary.line());

    // A second backup into the same place is refused rather than mixed in.
    let (again, text) = backup(&data, &copy);
    assert!(!again.status.success(), "{text}");

    server.kill().unwrap();
    server.wait().unwrap();
    for file in ["log.sqlite", "log.snapshots.sqlite", "store.sqlite", "pass-key"] {
        assert!(copy.join(file).exists(), "{file} missing from the copy");
    }
    assert!(!copy.join("log.sqlite-wal").exists(), "the copy is self-contained");
    let (out, text) = verify(&copy);
    assert!(out.status.success(), "the copy does not verify:\n{text}");
    assert!(text.contains("failed=0") && text.contains("snapshot at seq"), "{text}");

    // The copy is a data directory a server starts on, with the accounts the log names.
    let (mut restored, url) = start_server(&copy);
    let sale: serde_json::Value = client.get(format!("{url}/api/sales/1")).send().await.unwrap().json().await.unwrap();
    assert!(sale["stock"]["held"].as_u64().unwrap() >= 500, "{sale}");
    let ready = client.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    restored.kill().unwrap();
    restored.wait().unwrap();

    // Damage before the snapshots: `verify` names the sale and how far it checked.
    let conn = rusqlite::Connection::open(copy.join("log.sqlite")).unwrap();
    conn.execute("DELETE FROM entries WHERE sale = 1 AND seq = 40", []).unwrap();
    drop(conn);
    let (out, text) = verify(&copy);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("sale 1: FAILED after 40 entries checked"), "{text}");
    assert!(text.contains("verify sales=1 entries=40 failed=1"), "{text}");
}
