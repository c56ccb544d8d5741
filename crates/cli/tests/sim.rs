#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `stampede sim` runs seeds through the binary and says what it did; the same
//! seed prints the same report twice.

use std::process::Command;

fn sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stampede")).arg("sim").args(args).output().expect("run stampede")
}

#[test]
fn sim_runs_a_seed_and_reports_the_same_twice() {
    let first = sim(&["--seed", "11", "--steps", "120"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stdout));
    let text = String::from_utf8(first.stdout).unwrap();
    assert!(text.starts_with("seed 11: 120 steps passed"), "{text}");
    let again = sim(&["--seed", "11", "--steps", "120"]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);
    let many = sim(&["--seed", "20", "--seeds", "3", "--steps", "50"]);
    assert!(many.status.success());
    assert!(String::from_utf8(many.stdout).unwrap().contains("3 seeds x 50 steps passed"));
}
