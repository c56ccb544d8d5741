#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `stampede queue-order` recomputes a pre-queue from a revealed seed; this
//! checks its output against the rule in docs/API.md written again here, and
//! that a seed not matching the commitment is refused.

use std::process::Command;

fn stampede(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stampede")).args(args).output().expect("run stampede")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn queue_order_matches_the_documented_shuffle() {
    let seed = [42u8; 32];
    let commitment = blake3::hash(&seed);
    let out =
        stampede(&["queue-order", "--seed", &hex(&seed), "--commitment", &hex(commitment.as_bytes()), "--count", "50"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut keyed: Vec<([u8; 32], u32)> = (1..=50u32)
        .map(|t| {
            let mut input = seed.to_vec();
            input.extend_from_slice(&t.to_le_bytes());
            (*blake3::hash(&input).as_bytes(), t)
        })
        .collect();
    keyed.sort();
    let expected: Vec<String> =
        keyed.iter().enumerate().map(|(i, (_, t))| format!("place {} ticket {t}", i + 1)).collect();
    let lines: Vec<&str> = text.lines().skip_while(|l| *l == "commitment ok").collect();
    assert_eq!(lines, expected);

    let one = stampede(&["queue-order", "--seed", &hex(&seed), "--count", "50", "--ticket", &keyed[9].1.to_string()]);
    assert_eq!(String::from_utf8(one.stdout).unwrap().trim(), format!("ticket {} place 10", keyed[9].1));

    let wrong = stampede(&[
        "queue-order",
        "--seed",
        &hex(&[1u8; 32]),
        "--commitment",
        &hex(commitment.as_bytes()),
        "--count",
        "5",
    ]);
    assert!(!wrong.status.success(), "a seed that does not match the commitment is refused");
}
