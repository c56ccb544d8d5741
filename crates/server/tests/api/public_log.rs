//! Receipts and the public log over HTTP (B1): every command's answer, a
//! refusal's too, carries a receipt signed by the key the well-known URL
//! serves; the log is refused while the sale runs and streams after it
//! closes; each receipt is proven against the download; people appear only
//! as pseudonyms, and each learns only their own.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use stampede_engine::public::{LogHeader, Receipt, check_receipt};

use crate::common::{ADMIN, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_carry_receipts_that_the_closed_sales_log_proves() {
    let s = Server::start().await;
    let people = s.users(2, "buyer").await;
    let (alice, bob) = (&people[0], &people[1]);
    let id = s.open_stock_sale(json!({"stock": 3, "per_person_limit": 2})).await;

    let held = s.post_keyed(&format!("/api/sales/{id}/holds"), &alice.token, "a1", Some(json!({"quantity": 2}))).await;
    let hold = held.ok(201);
    let alice_receipt = Receipt::parse(held.header("stampede-receipt")).expect("a hold's receipt");
    let refused = s.post_keyed(&format!("/api/sales/{id}/holds"), &bob.token, "b1", Some(json!({"quantity": 2}))).await;
    refused.problem(409, "/problems/sold-out");
    let bob_receipt = Receipt::parse(refused.header("stampede-receipt")).expect("a refusal's receipt");
    let confirm =
        s.post_keyed(&format!("/api/sales/{id}/holds/{}/confirm", hold["id"]), &alice.token, "a2", None).await;
    confirm.ok(200);
    let confirm_receipt = Receipt::parse(confirm.header("stampede-receipt")).expect("a confirm's receipt");
    assert_eq!(confirm_receipt.seq, alice_receipt.seq + 2, "one entry between: bob's refusal");
    assert_eq!(confirm_receipt.by, alice_receipt.by);
    assert_ne!(bob_receipt.by, alice_receipt.by);

    let key = s.get("/.well-known/stampede/receipt-key", None).await.ok(200);
    let key = key["public_key"].as_str().expect("key").to_owned();
    for r in [&alice_receipt, &bob_receipt, &confirm_receipt] {
        assert!(r.verify_signature(Some(&key)).is_ok(), "{r:?}");
    }

    s.get(&format!("/api/sales/{id}/log"), None).await.problem(403, "/problems/log-not-public-yet");
    s.get("/api/sales/999/log", None).await.problem(404, "/problems/not-found");
    s.post_empty(&format!("/api/sales/{id}/close"), Some(ADMIN)).await.ok(200);
    let log = s.get(&format!("/api/sales/{id}/log"), None).await;
    assert_eq!(log.status, 200);
    assert_eq!(log.header("content-type"), "application/x-ndjson");
    assert!(log.header("content-disposition").contains(&format!("stampede-sale-{id}-log.jsonl")));
    let lines: Vec<String> = log.body.lines().map(str::to_owned).collect();
    assert_eq!(LogHeader::parse(&lines[0]).expect("header"), LogHeader::of(id));
    for r in [&alice_receipt, &bob_receipt, &confirm_receipt] {
        let proof = check_receipt(r, Some(&key), &mut lines.iter().cloned().map(Ok)).expect("proven");
        assert_eq!(proof.entries as usize, lines.len() - 1);
    }
    assert!(proof_fails_for_a_changed_outcome(&confirm_receipt, &key, &lines));

    // Each learns their own pseudonym, and it is the one their receipts carry.
    let me = s.get(&format!("/api/sales/{id}/log/me"), Some(&alice.token)).await.ok(200);
    assert_eq!(me["pseudonym"].as_u64(), Some(alice_receipt.by));
    let bob_me = s.get(&format!("/api/sales/{id}/log/me"), Some(&bob.token)).await.ok(200);
    assert_eq!(bob_me["pseudonym"].as_u64(), Some(bob_receipt.by));
    s.get(&format!("/api/sales/{id}/log/me"), None).await.problem(401, "/problems/unauthenticated");
    let senders: Vec<u64> = lines[1..]
        .iter()
        .filter_map(|l| {
            // Binary records (version 4), shown beside their bytes as what they say.
            let line: Value = serde_json::from_str(l).ok()?;
            assert_eq!(line["record"]["v"].as_u64(), Some(4), "{l}");
            line["record"]["by"].as_u64()
        })
        .collect();
    assert_eq!(senders.iter().filter(|b| **b == alice_receipt.by).count(), 2);
    assert_eq!(senders.iter().filter(|b| **b == bob_receipt.by).count(), 1);
    assert!(!senders.contains(&alice.id) && !senders.contains(&bob.id), "accounts in the public log: {senders:?}");
}

/// A receipt whose outcome digest is another's fails even with a valid chain.
fn proof_fails_for_a_changed_outcome(r: &Receipt, key: &str, lines: &[String]) -> bool {
    let mut other = r.clone();
    let mut digest = other.outcome.into_bytes();
    digest[0] = if digest[0] == b'0' { b'1' } else { b'0' };
    other.outcome = String::from_utf8(digest).unwrap_or_default();
    let forged_sig = URL_SAFE_NO_PAD.encode([0u8; 64]);
    let unsigned = Receipt { sig: forged_sig, ..other.clone() };
    check_receipt(&other, Some(key), &mut lines.iter().cloned().map(Ok)).is_err()
        && check_receipt(&unsigned, Some(key), &mut lines.iter().cloned().map(Ok)).is_err()
}
