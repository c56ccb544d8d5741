//! Overload: the real server with a small cap on requests in flight, driven
//! by `stampede bench --scenario overload` at ten times the connections the
//! cap admits. Every answer must be a hold, a correct refusal, or a shed
//! `503` carrying `Retry-After`; the books must balance and hold every
//! acknowledged unit. How soon the normal rate comes back is printed, not
//! asserted: on a machine shared with the rest of the suite it is a
//! measurement (BENCHMARKS.md, "Overload", records it on a quiet one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use stampede_bench::{BenchArgs, Scenario};

const ADMIN_TOKEN: &str = "overload-test-admin";
/// Requests the server works on at once; the overload phase opens 40 clients.
const IN_FLIGHT_MAX: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_load_is_shed_with_retry_after_and_nothing_else_goes_wrong() {
    overload(false).await;
}

/// The same crowd in front of a waiting room: it joins and asks `queue/me`
/// back to back while the people admitted first keep buying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_refreshing_a_waiting_room_is_shed_the_same_way() {
    overload(true).await;
}

async fn overload(waiting_room: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["serve", "--data"])
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "--max-in-flight", &IN_FLIGHT_MAX.to_string()])
        .env("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(url) = line.strip_prefix("stampede listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let args = BenchArgs {
        target: url,
        scenario: Scenario::Overload,
        duration: 3,
        connections: IN_FLIGHT_MAX,
        overload_factor: 10,
        waiting_room,
        users: 40,
        admin_token: Some(ADMIN_TOKEN.into()),
        quiet: true,
        ..BenchArgs::default()
    };
    let s = stampede_bench::run(&args).await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    println!("{}", s.report());

    let extra = |key: &str| s.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap();
    let shed: u64 = extra("overload_shed").parse().unwrap();
    assert!(shed > 0, "40 clients against a cap of 4 were never shed: {}", s.line());
    assert!(s.statuses.is_empty(), "answers other than 201, 409 or a shed 503: {:?}", s.statuses);
    assert!(!s.notes.iter().any(|n| n.contains("without Retry-After")), "{:?}", s.notes);
    assert!(s.ok > 0, "nobody was admitted under overload: {}", s.line());
    assert_eq!(s.oversold, 0, "{:?}", s.notes);
    assert!(!s.notes.iter().any(|n| n.contains("acknowledged") && n.contains("only")), "{:?}", s.notes);
    println!(
        "overload (waiting room: {waiting_room}): {shed} shed, admitted p99 {} ms, recovered after {} s, server peak {} MB",
        extra("overload_p99_ms"),
        extra("recovered_after_s"),
        extra("rss_peak_mb")
    );
}
