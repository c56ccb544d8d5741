//! Waiting rooms over real HTTP and WebSocket: places that survive a
//! reconnect, a pre-queue shuffle anyone can recompute, passes that buying
//! needs, proof of work, per-address limits, and live status to watchers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use stampede_core::{UserId, solve_pow};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{ADMIN, Resp, Server, ShiftedClock, User};

/// A stock sale (10 units, 1 per person) behind a waiting room; `room` overrides the room's defaults.
async fn room_sale(s: &Server, room: Value) -> (u64, [u8; 32]) {
    let mut wr = json!({"policy": "chunk", "chunk_size": 2, "chunk_seconds": 1.0, "pass_seconds": 60,
        "pow_bits": 0, "places_per_address": 1000});
    if let (Some(w), Some(o)) = (wr.as_object_mut(), room.as_object()) {
        for (k, v) in o {
            w.insert(k.clone(), v.clone());
        }
    }
    let sale =
        s.stock_sale_by(ADMIN, json!({"per_person_limit": 1, "order_quantity_max": 1, "waiting_room": wr})).await;
    let id = sale["id"].as_u64().unwrap();
    let commitment = unhex(sale["waiting_room"]["commitment"].as_str().unwrap());
    assert!(sale["waiting_room"]["seed"].is_null(), "the seed is secret before opening: {sale}");
    (id, commitment)
}

fn unhex(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    assert_eq!(s.len(), 64, "{s}");
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

async fn join(s: &Server, id: u64, u: &User, commitment: &[u8; 32], bits: u8) -> Resp {
    let nonce = solve_pow(commitment, UserId(u.id), bits);
    s.post(&format!("/api/sales/{id}/queue/join"), Some(&u.token), json!({"nonce": nonce})).await
}

async fn me(s: &Server, id: u64, u: &User) -> Value {
    s.get(&format!("/api/sales/{id}/queue/me"), Some(&u.token)).await.ok(200)
}

async fn reserve_with(s: &Server, id: u64, u: &User, pass: Option<&str>) -> Resp {
    let mut rb = s
        .request(reqwest::Method::POST, &format!("/api/sales/{id}/holds"))
        .bearer_auth(&u.token)
        .json(&json!({"quantity": 1}));
    if let Some(p) = pass {
        rb = rb.header("stampede-pass", p);
    }
    s.send(rb).await
}

/// The documented shuffle, written again from the API guide: pre-queue place
/// p holds the ticket with the p-th smallest blake3(seed || ticket u32 LE).
fn recompute_order(seed: &[u8; 32], n: u32) -> Vec<u32> {
    let mut keyed: Vec<(Vec<u8>, u32)> = (1..=n)
        .map(|t| {
            let mut input = seed.to_vec();
            input.extend_from_slice(&t.to_le_bytes());
            (blake3::hash(&input).as_bytes().to_vec(), t)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, t)| t).collect()
}

#[tokio::test]
async fn joining_again_keeps_the_place_before_and_after_the_shuffle() {
    let s = Server::start().await;
    let (id, c) = room_sale(&s, json!({})).await;
    let users = s.users(5, "q").await;
    let mut tickets = Vec::new();
    for u in &users {
        let t = join(&s, id, u, &c, 0).await.ok(200);
        assert!(t["place"].is_null(), "pre-queue places are unknown until the shuffle: {t}");
        assert_eq!(t["pass_state"], "waiting");
        tickets.push(t["ticket"].as_u64().unwrap());
    }
    assert_eq!(tickets, vec![1, 2, 3, 4, 5]);
    // A refresh, another tab, another device: the same ticket, whatever the nonce.
    let again =
        s.post(&format!("/api/sales/{id}/queue/join"), Some(&users[2].token), json!({"nonce": 999})).await.ok(200);
    assert_eq!(again["ticket"], 3);
    s.open(id).await;
    let place = me(&s, id, &users[2]).await["place"].as_u64().unwrap();
    for _ in 0..3 {
        let t = join(&s, id, &users[2], &c, 0).await.ok(200);
        assert_eq!((t["ticket"].as_u64(), t["place"].as_u64()), (Some(3), Some(place)));
    }
    // A late arrival queues behind the pre-queue, in arrival order.
    let late = s.users(2, "late").await;
    let a = join(&s, id, &late[0], &c, 0).await.ok(200);
    let b = join(&s, id, &late[1], &c, 0).await.ok(200);
    assert_eq!((a["ticket"].as_u64(), a["place"].as_u64()), (Some(6), Some(6)));
    assert_eq!((b["ticket"].as_u64(), b["place"].as_u64()), (Some(7), Some(7)));
    let status = s.get(&format!("/api/sales/{id}/queue"), None).await.ok(200);
    assert_eq!(status["joined"], 7, "{status}");
}

#[tokio::test]
async fn the_shuffle_is_recomputed_from_the_revealed_seed() {
    let s = Server::start().await;
    let (id, c) = room_sale(&s, json!({"chunk_size": 1, "chunk_seconds": 3600.0})).await;
    let users = s.users(12, "shuf").await;
    for u in &users {
        join(&s, id, u, &c, 0).await.ok(200);
    }
    s.open(id).await;
    let status = s.get(&format!("/api/sales/{id}/queue"), None).await.ok(200);
    let seed = unhex(status["seed"].as_str().unwrap_or_else(|| panic!("seed revealed at opening: {status}")));
    assert_eq!(blake3::hash(&seed).as_bytes(), &c, "the revealed seed matches the commitment published at creation");
    assert_eq!(status["prequeue_len"], 12);
    let order = recompute_order(&seed, 12);
    for u in &users {
        let t = me(&s, id, u).await;
        let ticket = t["ticket"].as_u64().unwrap() as u32;
        let place = t["place"].as_u64().unwrap() as usize;
        assert_eq!(order[place - 1], ticket, "place {place} of {t}");
    }
    // The one admitted so far is whoever holds place 1.
    let admitted: Vec<u64> = {
        let mut v = Vec::new();
        for u in &users {
            if me(&s, id, u).await["admitted"] == true {
                v.push(me(&s, id, u).await["place"].as_u64().unwrap());
            }
        }
        v
    };
    assert_eq!(admitted, vec![1]);
}

#[tokio::test]
async fn buying_needs_a_valid_pass_and_a_refusal_changes_nothing() {
    let s = Server::start().await;
    let (id, c) = room_sale(&s, json!({"chunk_size": 1, "chunk_seconds": 3600.0})).await;
    let (other_id, other_c) = room_sale(&s, json!({"chunk_size": 5})).await;
    let users = s.users(2, "pass").await;
    let (first, second) = (&users[0], &users[1]);
    s.open(id).await;
    s.open(other_id).await;
    join(&s, id, first, &c, 0).await.ok(200);
    join(&s, id, second, &c, 0).await.ok(200);
    join(&s, other_id, second, &other_c, 0).await.ok(200);
    let mine = me(&s, id, first).await;
    assert_eq!(mine["pass_state"], "admitted", "{mine}");
    let pass = mine["pass"].as_str().unwrap().to_owned();
    let other_pass = me(&s, other_id, second).await["pass"].as_str().unwrap().to_owned();
    assert!(me(&s, id, second).await["pass"].is_null(), "the second person waits for the next chunk");

    let before = s.state(id).await;
    reserve_with(&s, id, second, None).await.problem(403, "/problems/pass-required");
    reserve_with(&s, id, second, Some("v1.garbage.garbage")).await.problem(403, "/problems/pass-invalid");
    // Someone else's pass, and one's own pass for another sale.
    reserve_with(&s, id, second, Some(&pass)).await.problem(403, "/problems/pass-invalid");
    reserve_with(&s, id, second, Some(&other_pass)).await.problem(403, "/problems/pass-invalid");
    // A tampered payload with the original signature, and the original
    // payload with a tampered signature: one character changed in the middle.
    let parts: Vec<&str> = pass.split('.').collect();
    assert_eq!((parts.len(), parts[0]), (3, "v1"), "{pass}");
    let tamper = |part: &str| {
        let mut bytes = part.as_bytes().to_vec();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    for forged in [format!("v1.{}.{}", tamper(parts[1]), parts[2]), format!("v1.{}.{}", parts[1], tamper(parts[2]))] {
        assert_ne!(forged, pass);
        reserve_with(&s, id, first, Some(&forged)).await.problem(403, "/problems/pass-invalid");
    }
    assert_eq!(s.state(id).await, before, "refused buying changed nothing");

    let hold = reserve_with(&s, id, first, Some(&pass)).await.ok(201);
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", hold["id"]), Some(&first.token)).await.ok(200);
    assert_eq!(me(&s, id, first).await["pass_state"], "used");
    let before = s.state(id).await;
    reserve_with(&s, id, first, Some(&pass)).await.problem(409, "/problems/pass-used");
    assert_eq!(s.state(id).await, before);
}

#[tokio::test]
async fn a_pass_expires_after_its_lifetime() {
    let clock = Arc::new(ShiftedClock(AtomicI64::new(0)));
    let s = Server::start_with(tempfile::tempdir().unwrap(), clock.clone()).await;
    let (id, c) = room_sale(&s, json!({"pass_seconds": 30})).await;
    let u = s.users(1, "exp").await.remove(0);
    s.open(id).await;
    join(&s, id, &u, &c, 0).await.ok(200);
    let pass = me(&s, id, &u).await["pass"].as_str().unwrap().to_owned();
    clock.0.store(31_000_000, Ordering::SeqCst);
    let before = s.state(id).await;
    reserve_with(&s, id, &u, Some(&pass)).await.problem(403, "/problems/pass-expired");
    let t = me(&s, id, &u).await;
    assert_eq!(t["pass_state"], "expired", "{t}");
    assert!(t["pass"].is_null());
    assert_eq!(s.state(id).await, before);
}

#[tokio::test]
async fn proof_of_work_and_address_limits_guard_joining() {
    let s = Server::start().await;
    let (id, c) = room_sale(&s, json!({"pow_bits": 8, "places_per_address": 2})).await;
    let users = s.users(3, "pow").await;
    // Find a nonce that fails 8 bits.
    let bad = (0u64..).find(|n| !stampede_core::pow_ok(&c, UserId(users[0].id), *n, 8)).unwrap();
    // `GET queue` trails the sale by up to a coalescing period, so places are
    // read where they are read at once: each person's own ticket.
    let ticket = async |u: &User| {
        let r = s.get(&format!("/api/sales/{id}/queue/me"), Some(&u.token)).await;
        if r.status == 204 { None } else { r.ok(200)["ticket"].as_u64() }
    };
    s.post(&format!("/api/sales/{id}/queue/join"), Some(&users[0].token), json!({"nonce": bad}))
        .await
        .problem(422, "/problems/bad-proof-of-work");
    s.post(&format!("/api/sales/{id}/queue/join"), Some(&users[0].token), json!({"nonce": "x"}))
        .await
        .problem(400, "/problems/malformed-json");
    assert_eq!(ticket(&users[0]).await, None, "refused joins take no place");
    join(&s, id, &users[0], &c, 8).await.ok(200);
    join(&s, id, &users[1], &c, 8).await.ok(200);
    // Every test request comes from 127.0.0.1: the third place from it is refused.
    join(&s, id, &users[2], &c, 8).await.problem(429, "/problems/address-limit-reached");
    // Tickets are handed out in order: 1 and 2 mean the refused joins took none.
    assert_eq!([ticket(&users[0]).await, ticket(&users[1]).await, ticket(&users[2]).await], [Some(1), Some(2), None]);

    // The organizer turns the difficulty down while the sale runs; others may not.
    s.put(&format!("/api/sales/{id}/queue/pow"), Some(&users[0].token), json!({"pow_bits": 0}))
        .await
        .problem(403, "/problems/forbidden");
    s.put(&format!("/api/sales/{id}/queue/pow"), Some(ADMIN), json!({"pow_bits": 40}))
        .await
        .problem(422, "/problems/invalid-field");
    let out = s.put(&format!("/api/sales/{id}/queue/pow"), Some(ADMIN), json!({"pow_bits": 2})).await.ok(200);
    assert_eq!(out["pow_bits"], 2);

    // A sale without a room has no queue routes.
    let plain = s.stock_sale_by(ADMIN, json!({})).await["id"].as_u64().unwrap();
    s.get(&format!("/api/sales/{plain}/queue"), None).await.problem(409, "/problems/no-waiting-room");
}

#[tokio::test]
async fn watchers_get_one_shared_message_per_change_and_closing_at_once() {
    let s = Server::start().await;
    let (id, c) = room_sale(&s, json!({})).await;
    let url = format!("{}/api/sales/{id}/queue/ws", s.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut next = async || -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a message within 5 s");
            match msg.expect("socket open").expect("no socket error") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    let first = next().await;
    assert_eq!((first["type"].as_str(), first["joined"].as_u64()), (Some("status"), Some(0)));
    let stats = s.get("/api/admin/stats", Some(ADMIN)).await.ok(200);
    assert!(stats["ws_open"].as_u64().unwrap() >= 1, "{stats}");

    let u = s.users(1, "ws").await.remove(0);
    join(&s, id, &u, &c, 0).await.ok(200);
    let joined = next().await;
    assert_eq!(joined["joined"], 1, "{joined}");
    assert!(joined["seq"].as_u64() > first["seq"].as_u64());

    // The REST status is the same message.
    let rest = s.get(&format!("/api/sales/{id}/queue"), None).await.ok(200);
    assert_eq!(rest["seq"], joined["seq"]);

    s.post_empty(&format!("/api/sales/{id}/close"), Some(ADMIN)).await.ok(200);
    let started = std::time::Instant::now();
    // Awaited, not timed: the next message is the closing (a watcher that was
    // not told would time out); its latency is printed as a measurement.
    let closed = next().await;
    assert_eq!(closed["status"], "closed", "{closed}");
    eprintln!("closing reached the watcher {:?} after its answer", started.elapsed());
}

/// Watchers are spread over several fan-out shards; every one of them still
/// gets the same message, and the REST status is that message too.
#[tokio::test]
async fn every_watcher_across_the_fanout_shards_gets_the_same_message() {
    let s = Server::start().await;
    let (id, _) = room_sale(&s, json!({})).await;
    let url = format!("{}/api/sales/{id}/queue/ws", s.base.replace("http://", "ws://"));
    let watchers = stampede_server::live::SHARDS * 2 + 3;
    let mut sockets = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        sockets.push(ws);
    }
    s.post_empty(&format!("/api/sales/{id}/close"), Some(ADMIN)).await.ok(200);
    let mut seqs = std::collections::BTreeSet::new();
    for ws in &mut sockets {
        // Each socket first gets the status current when it connected, then the closing.
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a message within 5 s");
            if let Message::Text(t) = msg.expect("socket open").expect("no socket error") {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["status"] == "closed" {
                    seqs.insert(v["seq"].as_u64().unwrap());
                    break;
                }
            }
        }
    }
    assert_eq!(seqs.len(), 1, "one shared closing message, got seqs {seqs:?}");
    let rest = s.get(&format!("/api/sales/{id}/queue"), None).await.ok(200);
    assert_eq!(rest["seq"].as_u64(), seqs.first().copied());
}

#[tokio::test]
async fn a_pass_is_good_for_its_lifetime_up_to_the_per_person_limit_and_says_what_is_left() {
    let s = Server::start().await;
    let wr =
        json!({"policy": "active", "active_max": 1, "pass_seconds": 60, "pow_bits": 0, "places_per_address": 1000});
    let sale =
        s.stock_sale_by(ADMIN, json!({"per_person_limit": 2, "order_quantity_max": 1, "waiting_room": wr})).await;
    let id = sale["id"].as_u64().unwrap();
    let c = unhex(sale["waiting_room"]["commitment"].as_str().unwrap());
    let users = s.users(2, "twice").await;
    let (buyer, next) = (&users[0], &users[1]);
    s.open(id).await;
    join(&s, id, buyer, &c, 0).await.ok(200);
    join(&s, id, next, &c, 0).await.ok(200);
    let t = me(&s, id, buyer).await;
    assert_eq!(
        (t["per_person_limit"].as_u64(), t["bought"].as_u64(), t["pass_left"].as_u64()),
        (Some(2), Some(0), Some(2)),
        "{t}"
    );
    assert!(t["pass_ended_at"].is_null(), "{t}");
    let pass = t["pass"].as_str().unwrap().to_owned();
    let expires = t["pass_expires_at_us"].as_i64().unwrap();

    let hold = reserve_with(&s, id, buyer, Some(&pass)).await.ok(201);
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", hold["id"]), Some(&buyer.token)).await.ok(200);
    let t = me(&s, id, buyer).await;
    assert_eq!(t["pass_state"], "admitted", "one of two bought: the pass goes on; {t}");
    assert_eq!((t["bought"].as_u64(), t["pass_left"].as_u64()), (Some(1), Some(1)), "{t}");
    assert_eq!(t["pass_expires_at_us"].as_i64(), Some(expires), "the same lifetime; {t}");
    assert_eq!(me(&s, id, next).await["pass_state"], "waiting", "the slot is still taken");

    // The same pass buys the second one; then it has ended and the next person is let in.
    let hold = reserve_with(&s, id, buyer, Some(&pass)).await.ok(201);
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", hold["id"]), Some(&buyer.token)).await.ok(200);
    let t = me(&s, id, buyer).await;
    assert_eq!(t["pass_state"], "used", "{t}");
    assert_eq!((t["bought"].as_u64(), t["pass_left"].as_u64()), (Some(2), Some(0)), "{t}");
    assert!(t["pass"].is_null() && t["pass_ended_at_us"].as_i64().is_some(), "{t}");
    reserve_with(&s, id, buyer, Some(&pass)).await.problem(409, "/problems/pass-used");
    assert_eq!(me(&s, id, next).await["pass_state"], "admitted", "reaching the limit freed the slot");
}

#[tokio::test]
async fn not_being_in_line_is_an_ordinary_answer_not_an_error() {
    let s = Server::start().await;
    let (id, _) = room_sale(&s, json!({})).await;
    let u = s.users(1, "outside").await.remove(0);
    let r = s.get(&format!("/api/sales/{id}/queue/me"), Some(&u.token)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.body.is_empty(), "{}", r.body);
    // An unknown sale is still a 404.
    s.get("/api/sales/987654/queue/me", Some(&u.token)).await.problem(404, "/problems/not-found");
}
