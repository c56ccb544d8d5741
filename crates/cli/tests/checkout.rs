//! `stampede bench --scenario checkout` end to end at a tiny size against the
//! real binary: buyers granted wallet money check out (hold, pay) on a priced
//! sale, and the read-back finds the sale's revenue, every wallet and one
//! valid ticket per paid unit as the payments said, with no errors. The rate
//! is printed, not asserted (BENCHMARKS.md, "Issue 13: wallet checkout",
//! records it on a quiet machine).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use stampede_bench::{BenchArgs, Scenario};

const ADMIN_TOKEN: &str = "checkout-test-admin";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_checkouts_leave_the_books_balanced_and_one_ticket_per_paid_unit() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["serve", "--data"])
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0"])
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

    // Two units a checkout and a limit of six: every buyer reaches the limit
    // well within the run, so refusals at the limit are exercised too.
    let args = BenchArgs {
        target: url,
        scenario: Scenario::Checkout,
        duration: 2,
        connections: 4,
        users: 12,
        quantity: 2,
        limit: 6,
        admin_token: Some(ADMIN_TOKEN.into()),
        quiet: true,
        ..BenchArgs::default()
    };
    let s = stampede_bench::run(&args).await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    println!("{}\n{}", s.report(), s.line());

    let extra = |key: &str| s.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap();
    let num = |key: &str| extra(key).parse::<u64>().unwrap();
    assert_eq!(s.errors, 0, "{:?} {:?}", s.statuses, s.problems);
    assert_eq!(s.violations, 0, "{:?}", s.notes);
    assert!(s.is_clean(), "{}", s.line());
    assert!(num("checkouts") > 0, "{}", s.line());
    // Each checkout is two units at 1,000 won, one ticket each.
    assert_eq!(num("paid_units"), 2 * num("checkouts"));
    assert_eq!(num("paid_won"), 2_000 * num("checkouts"));
    assert_eq!(num("revenue_won"), num("paid_won"));
    assert_eq!(num("wallets_out_won"), num("paid_won"));
    assert_eq!(num("tickets"), num("paid_units"));
    assert_eq!(num("sold"), num("paid_units"));
    assert!(num("checkouts") <= 12 * 3, "at most three checkouts per buyer under a limit of 6: {}", s.line());
}
