//! The public log and receipts end to end, with the real binary: people
//! join a sale's waiting room (one with a wrong proof of work first), buy,
//! and keep the receipts the answers carried; the organizer closes the sale;
//! the log, refused before, downloads after; `stampede verify --log` replays
//! it offline and `stampede verify-receipt` proves a buyer's receipt against
//! it; changing one byte of the log, or of the receipt, makes each check
//! fail; and the file names nobody, while each participant finds exactly
//! their own entries under the pseudonym the server tells them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const ADMIN_TOKEN: &str = "public-log-test-admin";
const POW_BITS: u8 = 6;

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
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
    Server { child, url }
}

struct Person {
    id: u64,
    token: String,
}

struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(token);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, Option<String>) {
        let res = self.call(method, path, token, key, body).await;
        let status = res.status().as_u16();
        let receipt = res.headers().get("stampede-receipt").map(|v| v.to_str().unwrap().to_owned());
        let body = res.json().await.unwrap_or(Value::Null);
        (status, body, receipt)
    }
}

fn run(args: &[&str], files: &[&Path]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stampede")).args(args).args(files).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn verify_log(file: &Path) -> (bool, String) {
    run(&["verify", "--log"], &[file])
}

fn verify_receipt(receipt: &Path, file: &Path, key: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("verify-receipt")
        .arg(receipt)
        .arg("--log")
        .arg(file)
        .args(["--key", key])
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn receipt_json(header: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_sales_log_verifies_offline_proves_receipts_and_names_nobody() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir.path().join("data"));
    let api = Api { http: reqwest::Client::new(), url: server.url.clone() };

    let (status, users, _) = api
        .json(Method::POST, "/api/admin/users/bulk", ADMIN_TOKEN, None, Some(json!({"count": 3, "name_prefix": "p"})))
        .await;
    assert_eq!(status, 201, "{users}");
    let people: Vec<Person> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| Person { id: u["id"].as_u64().unwrap(), token: u["token"].as_str().unwrap().to_owned() })
        .collect();
    let (alice, bob, carol) = (&people[0], &people[1], &people[2]);

    let spec = json!({
        "kind": "stock", "title": "public log", "description": "", "stock": 5, "price": 0, "currency": "KRW",
        "per_person_limit": 2, "order_quantity_max": 2, "hold_seconds": 3600, "opens_at": null, "closes_at": null,
        "waiting_room": {"policy": "chunk", "chunk_size": 10, "chunk_seconds": 1, "pass_seconds": 600,
            "pow_bits": POW_BITS, "places_per_address": 100},
    });
    let (status, sale, _) = api.json(Method::POST, "/api/sales", ADMIN_TOKEN, None, Some(spec)).await;
    assert_eq!(status, 201, "{sale}");
    let id = sale["id"].as_u64().unwrap();
    let (_, room, _) = api.json(Method::GET, &format!("/api/sales/{id}/queue"), ADMIN_TOKEN, None, None).await;
    let commitment: [u8; 32] = hex32(room["commitment"].as_str().unwrap());

    // Carol's first try has a wrong proof of work: refused, and logged with a receipt.
    let solve = |p: &Person| stampede_core::solve_pow(&commitment, stampede_core::UserId(p.id), POW_BITS);
    let wrong =
        (0u64..).find(|n| !stampede_core::pow_ok(&commitment, stampede_core::UserId(carol.id), *n, POW_BITS)).unwrap();
    let (status, refused, refusal_receipt) = api
        .json(
            Method::POST,
            &format!("/api/sales/{id}/queue/join"),
            &carol.token,
            Some("carol-1"),
            Some(json!({"nonce": wrong})),
        )
        .await;
    assert_eq!((status, refused["type"].as_str()), (422, Some("/problems/bad-proof-of-work")), "{refused}");
    assert!(refusal_receipt.is_some(), "a refusal the sale logged carries its receipt");
    // Everyone joins the pre-queue before opening; the shuffle decides the places.
    let mut receipts = Vec::new();
    for (p, key) in [(alice, "alice@example.com-join"), (bob, "bob-join"), (carol, "carol-2")] {
        let (status, ticket, receipt) = api
            .json(
                Method::POST,
                &format!("/api/sales/{id}/queue/join"),
                &p.token,
                Some(key),
                Some(json!({"nonce": solve(p)})),
            )
            .await;
        assert_eq!(status, 200, "{ticket}");
        receipts.push((p.id, receipt.expect("a join's answer carries a receipt")));
    }

    // Not public while the sale runs.
    let (status, problem, _) = api.json(Method::GET, &format!("/api/sales/{id}/log"), "", None, None).await;
    assert_eq!((status, problem["type"].as_str()), (403, Some("/problems/log-not-public-yet")), "{problem}");

    let (status, _, open_receipt) =
        api.json(Method::POST, &format!("/api/sales/{id}/open"), ADMIN_TOKEN, Some("open"), None).await;
    assert_eq!(status, 200);
    assert!(open_receipt.is_some());

    // Admission: the first chunk lets everyone in at the opening.
    let pass = |p: &Person| {
        let api = &api;
        let token = p.token.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let (_, me, _) = api.json(Method::GET, &format!("/api/sales/{id}/queue/me"), &token, None, None).await;
                if let Some(pass) = me["pass"].as_str() {
                    return pass.to_owned();
                }
                assert!(Instant::now() < deadline, "never admitted: {me}");
                // Admission is the sale's timer; nothing to await from outside.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let alice_pass = pass(alice).await;
    let bob_pass = pass(bob).await;
    let hold = |p: &Person, pass: String, key: &'static str, quantity: u32| {
        let api = &api;
        let token = p.token.clone();
        async move {
            let res = api
                .http
                .post(format!("{}/api/sales/{id}/holds", api.url))
                .bearer_auth(&token)
                .header("idempotency-key", key)
                .header("stampede-pass", pass)
                .json(&json!({"quantity": quantity}))
                .send()
                .await
                .unwrap();
            let receipt = res.headers().get("stampede-receipt").map(|v| v.to_str().unwrap().to_owned());
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap(), receipt.expect("a hold's answer carries a receipt"))
        }
    };
    let (status, alice_hold, _) = hold(alice, alice_pass, "alice@example.com-hold", 2).await;
    assert_eq!(status, 201, "{alice_hold}");
    let (status, confirmed, alice_confirm) = api
        .json(
            Method::POST,
            &format!("/api/sales/{id}/holds/{}/confirm", alice_hold["id"]),
            &alice.token,
            Some("alice@example.com-pay"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{confirmed}");
    let alice_confirm = alice_confirm.expect("a confirm's answer carries a receipt");
    let (status, _, bob_receipt) = hold(bob, bob_pass, "bob-hold", 1).await;
    assert_eq!(status, 201);
    let (status, _, _) =
        api.json(Method::POST, &format!("/api/sales/{id}/close"), ADMIN_TOKEN, Some("close"), None).await;
    assert_eq!(status, 200);

    // Downloaded after the close, without signing in.
    let res = api.http.get(format!("{}/api/sales/{id}/log", api.url)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let log = res.bytes().await.unwrap().to_vec();
    let file = dir.path().join("sale.jsonl");
    std::fs::write(&file, &log).unwrap();

    let (ok, out) = verify_log(&file);
    assert!(ok, "{out}");
    assert!(out.contains("every recorded outcome reproduced"), "{out}");
    assert!(out.contains("3 joined"), "the shuffle of three was replayed: {out}");

    let (_, key, _) = api.json(Method::GET, "/.well-known/stampede/receipt-key", "", None, None).await;
    let key = key["public_key"].as_str().unwrap().to_owned();
    let receipt_file = dir.path().join("receipt");
    std::fs::write(&receipt_file, &alice_confirm).unwrap();
    let (ok, out) = verify_receipt(&receipt_file, &file, &key);
    assert!(ok, "{out}");
    let signed = receipt_json(&alice_confirm);
    assert!(out.contains(&format!("entry #{}", signed["seq"])), "{out}");
    assert!(out.contains(r#""kind":"confirmed""#), "{out}");
    // The refusal's receipt is proven too: a refusal is part of the record.
    std::fs::write(&receipt_file, refusal_receipt.as_deref().unwrap()).unwrap();
    let (ok, out) = verify_receipt(&receipt_file, &file, &key);
    assert!(ok && out.contains("bad-proof-of-work"), "{out}");
    // Another server's key is refused.
    std::fs::write(&receipt_file, &alice_confirm).unwrap();
    let (ok, out) = verify_receipt(&receipt_file, &file, &URL_SAFE_NO_PAD.encode([3u8; 32]));
    assert!(!ok && out.contains("not by the key given"), "{out}");

    // One byte of the log changed, anywhere: both checks fail.
    let tampered = dir.path().join("tampered.jsonl");
    let positions: Vec<usize> = (0..log.len()).step_by((log.len() / 40).max(1)).chain([log.len() - 2]).collect();
    for &at in &positions {
        let mut bad = log.clone();
        bad[at] = if bad[at] == b'1' { b'2' } else { b'1' };
        std::fs::write(&tampered, &bad).unwrap();
        let (ok, out) = verify_log(&tampered);
        assert!(!ok, "byte {at} changed, yet verify --log passed: {out}");
        let (ok, out) = verify_receipt(&receipt_file, &tampered, &key);
        assert!(!ok, "byte {at} changed, yet verify-receipt passed: {out}");
    }
    // One byte of the receipt changed, in its JSON or in its header form: it fails.
    let json_text = serde_json::to_string(&signed).unwrap();
    let seq_field = format!(r#""seq":{}"#, signed["seq"]);
    let at = json_text.find(&seq_field).unwrap() + seq_field.len() - 1;
    for (text, at) in
        [(json_text.clone(), at), (alice_confirm.clone(), alice_confirm.len() / 2), (alice_confirm.clone(), 10)]
    {
        let mut bad = text.into_bytes();
        bad[at] = if bad[at] == b'1' { b'2' } else { b'1' };
        std::fs::write(&receipt_file, &bad).unwrap();
        let (ok, out) = verify_receipt(&receipt_file, &file, &key);
        assert!(!ok, "receipt byte {at} changed, yet verify-receipt passed: {out}");
    }

    // The file names nobody: no account id, no key text.
    let text = String::from_utf8(log.clone()).unwrap();
    assert!(!text.contains("alice@example.com"), "a client's key text is in the public log");
    let mut senders = BTreeSet::new();
    let mut by_of_line = Vec::new();
    for line in text.lines().skip(1) {
        let line: Value = serde_json::from_str(line).unwrap();
        // A binary record, shown beside its bytes as what it says.
        let record = &line["record"];
        assert_eq!(record["v"].as_u64(), Some(4), "{line}");
        if let Some(by) = record["by"].as_u64() {
            senders.insert(by);
            by_of_line.push((line["seq"].as_u64().unwrap(), by));
        }
    }
    for p in &people {
        assert!(!senders.contains(&p.id), "account {} appears in the public log", p.id);
    }
    // Each participant learns their own pseudonym, and finds exactly their entries.
    let mut pseudonyms = BTreeSet::new();
    for (p, commands) in [(alice, 3), (bob, 2), (carol, 2)] {
        let (status, me, _) = api.json(Method::GET, &format!("/api/sales/{id}/log/me"), &p.token, None, None).await;
        assert_eq!(status, 200, "{me}");
        let mine = me["pseudonym"].as_u64().unwrap();
        assert!(pseudonyms.insert(mine), "two people share a pseudonym");
        assert_eq!(by_of_line.iter().filter(|(_, by)| *by == mine).count(), commands, "entries of {}", p.id);
    }
    let (_, alice_me, _) = api.json(Method::GET, &format!("/api/sales/{id}/log/me"), &alice.token, None, None).await;
    let alice_pseudonym = alice_me["pseudonym"].as_u64().unwrap();
    assert_eq!(signed["by"].as_u64(), Some(alice_pseudonym), "the receipt names its sender as the log does");
    assert_eq!(
        receipt_json(&bob_receipt)["by"],
        receipt_json(&receipts[1].1)["by"],
        "bob is one pseudonym in one sale"
    );
    assert_ne!(receipt_json(&bob_receipt)["by"].as_u64(), Some(alice_pseudonym));
    assert_eq!(receipts[0].0, alice.id);
    assert_eq!(receipt_json(&receipts[0].1)["by"].as_u64(), Some(alice_pseudonym));

    // Another sale gives alice another pseudonym: her entries cannot be linked across sales.
    let (status, other, _) = api
        .json(
            Method::POST,
            "/api/sales",
            ADMIN_TOKEN,
            None,
            Some(json!({"kind": "drop", "title": "other", "winners": 1})),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let (_, other_me, _) =
        api.json(Method::GET, &format!("/api/sales/{}/log/me", other["id"]), &alice.token, None, None).await;
    assert_ne!(other_me["pseudonym"].as_u64(), Some(alice_pseudonym), "{other_me}");
}

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}
