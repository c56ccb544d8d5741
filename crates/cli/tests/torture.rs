//! The black-box torture test in CI: `stampede torture --cycles 20` runs this
//! binary's own server under concurrent clients, SIGKILLs it 20 times at
//! moments drawn from a seed (the seed is printed; rerun a failure with
//! `stampede torture --cycles 20 --seed S`), restarts it on the same data and
//! checks the whole history over the API (crates/bench/src/torture/). Here we
//! check that it passed and that it really tortured: kills landed while
//! commands were in flight, resends and reused keys were compared, and the
//! log was verified.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;

#[test]
fn twenty_kills_lose_nothing_acknowledged_and_oversell_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("torture");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["torture", "--cycles", "20", "--quiet", "--data"])
        .arg(&work)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n(took {:.1} s)", started.elapsed().as_secs_f64());
    let server_log = std::fs::read_to_string(work.join("server.log")).unwrap_or_default();
    assert!(out.status.success(), "the torture failed:\n{stdout}\n{stderr}\nserver log tail:\n{}", tail(&server_log));
    let line = stdout.lines().last().unwrap();
    let fields: BTreeMap<&str, f64> = line
        .strip_prefix("torture ")
        .unwrap()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    let n = |k: &str| fields[k];
    assert_eq!((n("lost"), n("oversold"), n("inconsistent")), (0.0, 0.0, 0.0), "{line}");
    assert_eq!(n("cycles"), 20.0, "{line}");
    assert!(n("acked") >= 200.0 && n("refused") > 0.0, "too little load: {line}");
    // Kills landed on commands in flight: some answers were lost for good,
    // others were asked for again with the same key and answered.
    assert!(n("unknown") > 0.0 && n("answered_after_loss") > 0.0, "no kill hit a command in flight: {line}");
    assert!(n("resends") >= 20.0 && n("reused_keys") > 0.0, "too few resends compared: {line}");
    assert!(n("verify_runs") >= 1.0, "{line}");
    // A passing run cleans up after itself.
    assert!(!work.exists(), "the working directory was left behind");
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
