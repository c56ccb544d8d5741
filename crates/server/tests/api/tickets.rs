//! Tickets and check-in over HTTP: a paid order's tickets with signed QR
//! text, two gates scanning one ticket at once, a changed byte refused, a
//! refunded or transferred ticket refused, what was used not given back, and
//! an offline gate's sync recording a second admission as a conflict.

use serde_json::{Value, json};
use stampede_core::{RevocationList, SignedTicket};

use crate::common::{ADMIN, Server, User, now_us};

/// A free stock sale (money is beside the point here), open.
async fn free_sale(s: &Server) -> u64 {
    s.open_stock_sale(json!({"price": 0, "title": "Free gig"})).await
}

/// A free seated sale: one section "Floor", one row of 6, open.
async fn free_seats(s: &Server) -> u64 {
    let body = json!({
        "kind": "seated", "title": "Free concert", "currency": "KRW",
        "seated": {
            "generate": {"name": "Hall", "sections": [
                {"name": "Floor", "tier": "VIP", "price": 0, "colour": "#cc3333", "rows": 1,
                 "seats_per_row": 6, "x": 0, "y": 0, "curve_degrees": 0.0, "spacing": 10}
            ]},
            "per_person_limit": 4, "seats_per_hold_max": 4, "hold_seconds": 300
        }
    });
    let sale = s.post("/api/sales", Some(ADMIN), body).await.ok(201);
    let id = sale["id"].as_u64().expect("id");
    s.open(id).await;
    id
}

async fn my_tickets(s: &Server, u: &User) -> Vec<Value> {
    let out = s.get("/api/me/tickets", Some(&u.token)).await.ok(200);
    out["tickets"].as_array().expect("tickets").clone()
}

async fn scan(s: &Server, sale: u64, qr: &str, gate: u64) -> Value {
    s.post(&format!("/api/sales/{sale}/checkin"), Some(ADMIN), json!({"qr": qr, "gate": gate})).await.ok(200)
}

async fn kit(s: &Server, sale: u64) -> (ed25519_dalek::VerifyingKey, RevocationList, Value) {
    let kit = s.get(&format!("/api/sales/{sale}/gate-kit"), Some(ADMIN)).await.ok(200);
    let b64 = |k: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(kit[k].as_str().expect(k)).expect("base64url")
    };
    let key: [u8; 32] = b64("public_key").try_into().expect("32 bytes");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key).expect("a key");
    let list = RevocationList::open(&b64("revocations"), &key).expect("a signed list");
    (key, list, kit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_has_one_signed_ticket_per_unit_and_a_gate_admits_it_once() {
    let s = Server::start().await;
    let sale = free_sale(&s).await;
    let users = s.users(2, "tix").await;
    let (buyer, other) = (&users[0], &users[1]);
    let hold = s.hold(sale, &buyer.token, 2).await;
    assert!(my_tickets(&s, buyer).await.is_empty(), "a hold is not paid: no tickets");
    s.post_empty(&format!("/api/sales/{sale}/holds/{}/confirm", hold["id"]), Some(&buyer.token)).await.ok(200);

    let tickets = my_tickets(&s, buyer).await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    let units: Vec<u64> = tickets.iter().filter_map(|t| t["place"]["unit"].as_u64()).collect();
    assert_eq!(units, [1, 2]);
    let (key, list, kit0) = kit(&s, sale).await;
    assert_eq!((kit0["tickets"].as_u64(), kit0["admitted"].as_u64()), (Some(2), Some(0)));
    assert!(list.revocations.is_empty());
    for t in &tickets {
        assert_eq!(t["state"], "valid");
        let qr = t["qr"].as_str().expect("the holder sees the QR text");
        let opened = SignedTicket::open_qr_text(qr, &key).expect("signed with the sale's key");
        assert_eq!(opened.payload().sale, sale);
        assert_eq!(opened.payload().holder.0, buyer.id);
    }
    assert!(my_tickets(&s, other).await.is_empty());
    let path = format!("/api/sales/{sale}/tickets/{}", tickets[0]["ticket"]);
    s.get(&path, Some(&other.token)).await.problem(404, "/problems/not-found");
    assert!(s.get(&path, Some(ADMIN)).await.ok(200)["qr"].is_null(), "the organizer never sees the QR text");
    // Only the organizer runs the gates.
    s.post(&format!("/api/sales/{sale}/checkin"), Some(&buyer.token), json!({"qr": "AAAA", "gate": 1}))
        .await
        .problem(403, "/problems/forbidden");

    // Two gates scan the same ticket at the same moment: one admits it.
    let qr = tickets[0]["qr"].as_str().expect("qr").to_owned();
    let (a, b) = tokio::join!(scan(&s, sale, &qr, 1), scan(&s, sale, &qr, 2));
    let verdicts = [a["verdict"].as_str(), b["verdict"].as_str()];
    assert_eq!(verdicts.iter().filter(|v| **v == Some("admitted")).count(), 1, "{a} {b}");
    let refused = if a["verdict"] == "refused" { &a } else { &b };
    assert_eq!(refused["reason"], "already-admitted");
    assert!(refused["admitted_at"].is_string(), "the refusal says when it went in: {refused}");
    // And a third time, later, still refused.
    assert_eq!(scan(&s, sale, &qr, 3).await["reason"], "already-admitted");

    // One symbol changed (so one byte): refused, nothing recorded.
    let mut forged: Vec<u8> = tickets[1]["qr"].as_str().expect("qr").bytes().collect();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let out = scan(&s, sale, &forged, 1).await;
    assert_eq!(out["verdict"], "refused");
    assert!(matches!(out["reason"].as_str(), Some("bad-signature" | "unknown-ticket")), "{out}");
    // Lower case, as a USB scanner may type it, reads the same.
    let second = scan(&s, sale, &tickets[1]["qr"].as_str().expect("qr").to_lowercase(), 1).await;
    assert_eq!(second["verdict"], "admitted", "{second}");
    let (_, _, kit1) = kit(&s, sale).await;
    assert_eq!(kit1["admitted"], 2);

    // What was used is not given back.
    s.post_empty(&format!("/api/sales/{sale}/orders/{}/refund", hold["id"]), Some(&buyer.token))
        .await
        .problem(409, "/problems/ticket-used");
    let states: Vec<Value> = my_tickets(&s, buyer).await.iter().map(|t| t["state"].clone()).collect();
    assert_eq!(states, [json!("admitted"), json!("admitted")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refunded_seat_revokes_its_ticket_online_and_on_the_list() {
    let s = Server::start().await;
    let sale = free_seats(&s).await;
    let u = s.users(1, "seat").await;
    let h =
        s.post(&format!("/api/sales/{sale}/seats/holds"), Some(&u[0].token), json!({"seats": [0, 1]})).await.ok(201);
    let order = h["id"].as_u64().expect("id");
    s.post_empty(&format!("/api/sales/{sale}/seats/holds/{order}/confirm"), Some(&u[0].token)).await.ok(200);
    let tickets = my_tickets(&s, &u[0]).await;
    let seats: Vec<&str> = tickets.iter().filter_map(|t| t["place"]["seat"].as_str()).collect();
    assert_eq!(seats, ["Floor A-1", "Floor A-2"]);
    let released_qr = tickets[0]["qr"].as_str().expect("qr").to_owned();

    // Give back seat 0 (one seat of the order): its ticket is revoked.
    s.post(&format!("/api/sales/{sale}/seats/holds/{order}/release"), Some(&u[0].token), json!({"seat": 0}))
        .await
        .ok(200);
    let after = my_tickets(&s, &u[0]).await;
    let states: Vec<(&str, &str)> =
        after.iter().map(|t| (t["place"]["seat"].as_str().unwrap_or(""), t["state"].as_str().unwrap_or(""))).collect();
    assert_eq!(states, [("Floor A-1", "revoked"), ("Floor A-2", "valid")]);
    assert!(after[0]["qr"].is_null(), "a revoked ticket shows no QR code");
    let out = scan(&s, sale, &released_qr, 1).await;
    assert_eq!((out["verdict"].as_str(), out["reason"].as_str()), (Some("refused"), Some("ticket-revoked")));
    // An offline gate's refreshed list revokes it too.
    let (key, list, _) = kit(&s, sale).await;
    let payload = *SignedTicket::open_qr_text(&released_qr, &key).expect("still a signed ticket").payload();
    assert!(list.check(&payload).is_err(), "the list revokes the released seat's ticket");
    let kept = *SignedTicket::open_qr_text(after[1]["qr"].as_str().expect("qr"), &key).expect("signed").payload();
    assert_eq!(list.check(&kept), Ok(()));
    // The seat is on sale again, and its new ticket is a new one.
    let again =
        s.post(&format!("/api/sales/{sale}/seats/holds"), Some(&u[0].token), json!({"seats": [0]})).await.ok(201);
    s.post_empty(&format!("/api/sales/{sale}/seats/holds/{}/confirm", again["id"]), Some(&u[0].token)).await.ok(200);
    let last = my_tickets(&s, &u[0]).await;
    assert_eq!(last.iter().filter(|t| t["state"] == "valid").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transferred_ticket_reissues_and_an_offline_second_admission_is_a_conflict() {
    let s = Server::start().await;
    let sale = free_sale(&s).await;
    let u = s.users(3, "give").await;
    let (giver, friend, stranger) = (&u[0], &u[1], &u[2]);
    let hold = s.hold(sale, &giver.token, 1).await;
    s.post_empty(&format!("/api/sales/{sale}/holds/{}/confirm", hold["id"]), Some(&giver.token)).await.ok(200);
    let ticket = my_tickets(&s, giver).await.remove(0);
    let old_qr = ticket["qr"].as_str().expect("qr").to_owned();
    let path = format!("/api/sales/{sale}/tickets/{}/transfer", ticket["ticket"]);

    // Only to a friend.
    s.post(&path, Some(&giver.token), json!({"to": stranger.id})).await.problem(403, "/problems/not-a-friend");
    s.post("/api/me/friends", Some(&giver.token), json!({"user_id": friend.id})).await.ok(201);
    s.post_empty(&format!("/api/me/friends/{}/accept", giver.id), Some(&friend.token)).await.ok(200);
    s.post(&path, Some(&stranger.token), json!({"to": friend.id})).await.problem(404, "/problems/not-found");
    let moved = s.post(&path, Some(&giver.token), json!({"to": friend.id})).await.ok(200);
    assert_eq!((moved["generation"].as_u64(), moved["holder_id"].as_u64()), (Some(2), Some(friend.id)));
    assert!(my_tickets(&s, giver).await.is_empty(), "the giver holds it no more");
    let theirs = my_tickets(&s, friend).await;
    let new_qr = theirs[0]["qr"].as_str().expect("the friend sees the new QR").to_owned();
    assert_ne!(new_qr, old_qr);
    assert_eq!(scan(&s, sale, &old_qr, 1).await["reason"], "ticket-superseded");

    // An offline gate let the new ticket in; an online gate had too: the
    // sync records the second admission as a conflict, and a repeat of the
    // sync changes nothing.
    assert_eq!(scan(&s, sale, &new_qr, 1).await["verdict"], "admitted");
    let sync = json!({"gate": 9, "gate_name": "Side door",
        "scans": [{"nonce": 41, "scanned_at_us": now_us(), "qr": new_qr}, {"nonce": 42, "scanned_at_us": now_us(), "qr": "NOTATICKET"}]});
    let out = s.post(&format!("/api/sales/{sale}/checkin/sync"), Some(ADMIN), sync.clone()).await.ok(200);
    assert_eq!(out["verdicts"][0], json!({"verdict": "conflict", "reason": "already-admitted"}));
    assert_eq!(out["verdicts"][1]["verdict"], "unreadable");
    let again = s.post(&format!("/api/sales/{sale}/checkin/sync"), Some(ADMIN), sync).await.ok(200);
    assert_eq!(again["verdicts"], out["verdicts"]);
    let progress = s.get(&format!("/api/sales/{sale}/checkin"), Some(ADMIN)).await.ok(200);
    assert_eq!(progress["admitted"], 1);
    let conflicts = progress["conflicts"].as_array().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{progress}");
    assert_eq!((conflicts[0]["gate"].as_u64(), conflicts[0]["reason"].as_str()), (Some(9), Some("already-admitted")));
    s.get(&format!("/api/sales/{sale}/checkin"), Some(&giver.token)).await.problem(403, "/problems/forbidden");

    // A restart replays the sealed log: the same holder, generation and admission.
    let s = Server::start_in(s.stop().await).await;
    let theirs = my_tickets(&s, friend).await;
    assert_eq!((theirs[0]["state"].as_str(), theirs[0]["generation"].as_u64()), (Some("admitted"), Some(2)));
    assert_eq!(scan(&s, sale, &new_qr, 2).await["reason"], "already-admitted");
    assert_eq!(scan(&s, sale, &old_qr, 2).await["reason"], "ticket-superseded");
}
