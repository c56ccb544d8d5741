//! Seated sales over HTTP: creating one from generated blocks, the layout,
//! holds that collide and change nothing, best available, friends' seats, one
//! seat given back or swapped, and the live seat map adding up for a viewer
//! that connects in the middle of a rush, over the seat map's own socket and
//! over the sale's live socket alike.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{ADMIN, Server, User};

/// Two sections: "Floor" (2 rows × 6, tier VIP) and "Balcony" (3 rows × 4, tier R).
pub async fn seated_sale(s: &Server, extra: Value) -> u64 {
    let mut body = json!({
        "kind": "seated", "title": "Concert", "currency": "KRW",
        "seated": {
            "generate": {"name": "Hall", "sections": [
                {"name": "Floor", "tier": "VIP", "price": 150000, "colour": "#cc3333", "rows": 2,
                 "seats_per_row": 6, "x": 0, "y": 0, "curve_degrees": 0.0, "spacing": 10},
                {"name": "Balcony", "tier": "R", "price": 90000, "colour": "#3366cc", "rows": 3,
                 "seats_per_row": 4, "x": 0, "y": 100, "curve_degrees": 40.0, "spacing": 10}
            ]},
            "per_person_limit": 4, "seats_per_hold_max": 4, "hold_seconds": 300
        }
    });
    if let (Some(b), Some(o)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    let sale = s.post("/api/sales", Some(ADMIN), body).await.ok(201);
    assert_eq!(sale["kind"], "seated");
    let id = sale["id"].as_u64().unwrap();
    s.open(id).await;
    id
}

pub async fn hold(s: &Server, id: u64, u: &User, body: Value) -> crate::common::Resp {
    s.post(&format!("/api/sales/{id}/seats/holds"), Some(&u.token), body).await
}

pub fn seat_ids(hold: &Value) -> Vec<u64> {
    hold["seats"].as_array().unwrap().iter().map(|s| s["id"].as_u64().unwrap()).collect()
}

/// The taken seats of a snapshot message.
pub fn snapshot_bits(snap: &Value) -> BTreeSet<u32> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(snap["taken"].as_str().unwrap()).unwrap();
    let seats = snap["seats"].as_u64().unwrap() as u32;
    (0..seats).filter(|i| bytes[(*i / 8) as usize] & (1 << (i % 8)) != 0).collect()
}

/// What a refused seat command must leave as it was: the sale's counts and
/// every seat of what each of `people` has booked, with its status. Both are
/// read at once (the seat map, `GET seats`, may trail by 100 ms, so an
/// unchanged map would prove nothing).
async fn seat_state(s: &Server, id: u64, people: &[&User]) -> Value {
    let mut booked = Vec::new();
    for u in people {
        booked.push(s.get("/api/me/seats", Some(&u.token)).await.ok(200));
    }
    json!({"sale": s.sale(id).await, "booked": booked})
}

#[tokio::test]
async fn a_seated_sale_has_a_layout_and_a_summary() {
    let s = Server::start().await;
    let id = seated_sale(&s, json!({})).await;
    let sale = s.sale(id).await;
    assert_eq!(sale["seated"]["total"], 24);
    assert_eq!(sale["seated"]["available"], 24);
    assert_eq!(sale["seated"]["sections"][1]["name"], "Balcony");
    assert_eq!(sale["seated"]["sections"][1]["seats"], 12);

    let venue = s.get(&format!("/api/sales/{id}/venue"), None).await;
    assert!(venue.header("cache-control").contains("immutable"));
    let venue = venue.ok(200);
    assert_eq!(venue["seats"], 24);
    let balcony = &venue["sections"][1];
    assert_eq!(balcony["first_seat"], 12);
    assert_eq!(balcony["rows"][2]["label"], "C");
    assert_eq!(balcony["rows"][2]["first_seat"], 20);
    assert_eq!(balcony["rows"][2]["seats"].as_array().unwrap().len(), 4);

    // A bad venue is refused with the reason, and no sale is made.
    let before = s.get("/api/sales", None).await.ok(200);
    let bad = json!({"kind": "seated", "title": "Bad", "seated": {"venue": {"name": "x", "sections": []},
        "per_person_limit": 4, "hold_seconds": 300}});
    let p = s.post("/api/sales", Some(ADMIN), bad).await.problem(422, "/problems/invalid-field");
    assert!(p["detail"].as_str().unwrap().contains("section"), "{p}");
    assert_eq!(s.get("/api/sales", None).await.ok(200), before);
    // Stock routes refuse a seated sale instead of misreading it.
    let u = s.users(1, "st").await.remove(0);
    s.post(&format!("/api/sales/{id}/holds"), Some(&u.token), json!({"quantity": 1}))
        .await
        .problem(409, "/problems/wrong-sale-kind");
}

#[tokio::test]
async fn colliding_holds_are_all_or_nothing_and_name_the_taken_seats() {
    let s = Server::start().await;
    let id = seated_sale(&s, json!({})).await;
    let us = s.users(2, "c").await;
    let first = hold(&s, id, &us[0], json!({"seats": [2, 3]})).await.ok(201);
    assert_eq!(seat_ids(&first), vec![2, 3]);
    assert_eq!(first["status"], "held");
    assert_eq!(first["amount"], 300000);
    assert_eq!(first["seats"][0]["section"], "Floor");
    assert_eq!(first["seats"][0]["row"], "A");
    assert_eq!(first["seats"][0]["label"], "3");

    let map_before = s.get(&format!("/api/sales/{id}/seats"), None).await.ok(200);
    let sale_before = s.sale(id).await;
    let p = hold(&s, id, &us[1], json!({"seats": [3, 4]})).await.problem(409, "/problems/seats-taken");
    assert_eq!(p["seats"], json!([3]), "{p}");
    hold(&s, id, &us[1], json!({"seats": [4, 4]})).await.problem(422, "/problems/duplicate-seat");
    hold(&s, id, &us[1], json!({"seats": [4, 99]})).await.problem(422, "/problems/unknown-seat");
    hold(&s, id, &us[1], json!({"seats": [4, 5, 6, 7, 8]})).await.problem(422, "/problems/too-many-seats");
    assert_eq!(s.sale(id).await, sale_before, "refusals change nothing");
    let map_after = s.get(&format!("/api/sales/{id}/seats"), None).await.ok(200);
    assert_eq!(snapshot_bits(&map_after), snapshot_bits(&map_before));
    assert_eq!(snapshot_bits(&map_after), BTreeSet::from([2, 3]));

    // Cancelled, the seats are free for the other person.
    s.delete(&format!("/api/sales/{id}/seats/holds/{}", first["id"]), Some(&us[0].token)).await.ok(200);
    hold(&s, id, &us[1], json!({"seats": [3, 4]})).await.ok(201);
}

#[tokio::test]
async fn best_available_takes_adjacent_seats_in_front_and_says_none_when_it_cannot() {
    let s = Server::start().await;
    let id = seated_sale(&s, json!({})).await;
    let us = s.users(4, "b").await;
    // Front row of the floor is seats 0..6; the middle pair is 2, 3.
    let h = hold(&s, id, &us[0], json!({"best": {"count": 2, "section": "Floor"}})).await.ok(201);
    assert_eq!(seat_ids(&h), vec![2, 3]);
    // Four together cannot fit in row A any more (2 free each side): row B
    // (6..12), flush to one end so no single seat is stranded (7..11 would strand 6 and 11).
    let h = hold(&s, id, &us[1], json!({"best": {"count": 4, "section": 0}})).await.ok(201);
    assert_eq!(seat_ids(&h), vec![6, 7, 8, 9]);
    let h = hold(&s, id, &us[2], json!({"best": {"count": 3, "tier": "R"}})).await.ok(201);
    let ids = seat_ids(&h);
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1) && ids[0] >= 12 && ids[2] < 16, "front balcony row: {ids:?}");
    let before = seat_state(&s, id, &[&us[3]]).await;
    assert_eq!(before["sale"]["seated"]["held"], 2 + 4 + 3, "{before}");
    hold(&s, id, &us[3], json!({"best": {"count": 4, "section": "Floor"}}))
        .await
        .problem(409, "/problems/no-adjacent-seats");
    hold(&s, id, &us[3], json!({"best": {"count": 2, "section": "Nowhere"}}))
        .await
        .problem(422, "/problems/unknown-section");
    assert_eq!(seat_state(&s, id, &[&us[3]]).await, before, "refusals change nothing");
}

#[tokio::test]
async fn friends_get_their_seat_in_their_own_orders_and_strangers_cannot_be_assigned() {
    let s = Server::start().await;
    let id = seated_sale(&s, json!({})).await;
    let us = s.users(3, "f").await;
    let (booker, friend, stranger) = (&us[0], &us[1], &us[2]);
    s.post("/api/me/friends", Some(&booker.token), json!({"user_id": friend.id})).await.ok(201);
    s.post_empty(&format!("/api/me/friends/{}/accept", booker.id), Some(&friend.token)).await.ok(200);

    let before = s.sale(id).await;
    let p = hold(&s, id, booker, json!({"seats": [0, 1], "holders": [booker.id, stranger.id]}))
        .await
        .problem(403, "/problems/not-a-friend");
    assert!(p["detail"].as_str().unwrap().contains(&stranger.id.to_string()), "{p}");
    assert_eq!(s.sale(id).await, before);

    let h = hold(&s, id, booker, json!({"best": {"count": 2}, "holders": [booker.id, friend.id]})).await.ok(201);
    let hold_id = h["id"].as_u64().unwrap();
    s.grant(booker.id, 300_000).await;
    s.pay(id, hold_id, &booker.token).await.ok(200);

    let theirs = s.get("/api/me/seats", Some(&friend.token)).await.ok(200);
    let orders = theirs["seats"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{theirs}");
    assert_eq!(orders[0]["status"], "confirmed");
    assert_eq!(orders[0]["booker_id"], booker.id);
    assert!(orders[0]["seats"].as_array().unwrap().iter().any(|s| s["holder_id"] == friend.id));
    assert_eq!(s.get("/api/me/seats", Some(&stranger.token)).await.ok(200)["seats"], json!([]));
    // The friend's seat counts against the friend's own limit (4): three more fit, four do not.
    let before = seat_state(&s, id, &[booker, friend]).await;
    hold(&s, id, friend, json!({"best": {"count": 4}})).await.problem(409, "/problems/limit-reached");
    assert_eq!(seat_state(&s, id, &[booker, friend]).await, before, "the refused hold took nothing");
    hold(&s, id, friend, json!({"best": {"count": 3}})).await.ok(201);
    // Only the booker changes the order.
    let before = seat_state(&s, id, &[booker, friend]).await;
    s.post_empty(&format!("/api/sales/{id}/seats/orders/{hold_id}/refund"), Some(&friend.token))
        .await
        .problem(403, "/problems/not-your-hold");
    let after = seat_state(&s, id, &[booker, friend]).await;
    assert_eq!(after, before, "the refused refund changed nothing");
    assert_eq!(after["booked"][0]["seats"][0]["status"], "confirmed", "{after}");
}

#[tokio::test]
async fn one_seat_of_an_order_is_given_back_or_swapped() {
    let s = Server::start().await;
    let id = seated_sale(&s, json!({})).await;
    let u = s.users(2, "sw").await;
    let h = hold(&s, id, &u[0], json!({"seats": [0, 1, 2]})).await.ok(201);
    let order = h["id"].as_u64().unwrap();
    hold(&s, id, &u[1], json!({"seats": [5]})).await.ok(201);

    let base = format!("/api/sales/{id}/seats/holds/{order}");
    let before = seat_state(&s, id, &[&u[0], &u[1]]).await;
    s.post(&format!("{base}/swap"), Some(&u[0].token), json!({"from": 2, "to": 5}))
        .await
        .problem(409, "/problems/seats-taken");
    assert_eq!(seat_state(&s, id, &[&u[0], &u[1]]).await, before, "the refused swap moved no seat");
    let swapped = s.post(&format!("{base}/swap"), Some(&u[0].token), json!({"from": 2, "to": 20})).await.ok(200);
    assert_eq!(seat_ids(&swapped), vec![0, 1, 20]);
    assert_eq!(swapped["released"][0]["id"], 2);
    assert_eq!(swapped["amount"], 150000 * 2 + 90000, "the new seat has its own section's price");
    // Paid at that price; then one seat is given back from the order.
    s.grant(u[0].id, 390_000).await;
    assert_eq!(s.pay(id, order, &u[0].token).await.ok(200)["amount"], 390_000);
    let released = s.post(&format!("{base}/release"), Some(&u[0].token), json!({"seat": 0})).await.ok(200);
    assert_eq!(seat_ids(&released), vec![1, 20]);
    assert_eq!(released["status"], "confirmed");
    let before = seat_state(&s, id, &[&u[0], &u[1]]).await;
    s.post(&format!("{base}/release"), Some(&u[0].token), json!({"seat": 0}))
        .await
        .problem(422, "/problems/seat-not-in-order");
    assert_eq!(seat_state(&s, id, &[&u[0], &u[1]]).await, before, "the refused release gave nothing back");
    // The seat map is published at most every 100 ms: wait on its socket for
    // the frame that shows the swap and the release, then the REST map is
    // that frame (it is never older than what a socket was sent).
    let expected = BTreeSet::from([1, 5, 20]);
    let url = format!("{}/api/sales/{id}/seats/ws", s.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut viewer = Viewer::default();
    while viewer.taken != expected || viewer.snapshots == 0 {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap_or_else(|_| panic!("the map showed {:?}, expected {expected:?}", viewer.taken));
        if let Message::Text(t) = msg.expect("open").expect("no error") {
            viewer.apply(&serde_json::from_str(t.as_str()).unwrap());
        }
    }
    let map = s.get(&format!("/api/sales/{id}/seats"), None).await.ok(200);
    assert_eq!(snapshot_bits(&map), expected);
    // The organizer's results count the order's seats and what they cost now.
    let results = s.get(&format!("/api/sales/{id}/results"), Some(ADMIN)).await.ok(200);
    assert_eq!(results["revenue"], 150000 + 90000, "{results}");
    assert_eq!(results["recipients"][0]["quantity"], 2);
    let sale = s.sale(id).await;
    assert_eq!((sale["seated"]["sold"].as_u64(), sale["seated"]["held"].as_u64()), (Some(2), Some(1)));
}

/// Applies seat-map messages in order; a delta must continue the last seq.
/// Reads both encodings: `snapshot` / `delta` of the seat map's own socket,
/// and `seats` with `form` of the live socket (whose other types it skips).
#[derive(Default)]
struct Viewer {
    seq: u64,
    taken: BTreeSet<u32>,
    snapshots: u32,
}

impl Viewer {
    fn apply(&mut self, msg: &Value) {
        let seq = msg["seq"].as_u64().unwrap();
        let form = match msg["type"].as_str().unwrap() {
            "seats" => msg["form"].as_str().unwrap(),
            "status" => return,
            own => {
                assert!(msg.get("form").is_none(), "the seat socket's messages have no form: {msg}");
                own
            }
        };
        match form {
            "snapshot" => {
                self.taken = snapshot_bits(msg);
                self.snapshots += 1;
            }
            "delta" => {
                assert_eq!(seq, self.seq + 1, "a delta continues the last message: {msg}");
                for t in msg["taken"].as_array().unwrap() {
                    assert!(self.taken.insert(t.as_u64().unwrap() as u32), "taken twice: {msg}");
                }
                for f in msg["freed"].as_array().unwrap() {
                    assert!(self.taken.remove(&(f.as_u64().unwrap() as u32)), "freed a free seat: {msg}");
                }
            }
            other => panic!("unexpected message {other}: {msg}"),
        }
        self.seq = seq;
    }
}

#[tokio::test]
async fn a_viewer_joining_mid_rush_adds_up_to_the_server() {
    viewer_joining_mid_rush("seats/ws").await;
}

#[tokio::test]
async fn a_live_socket_viewer_joining_mid_rush_adds_up_to_the_server() {
    viewer_joining_mid_rush("live/ws?seats=true").await;
}

async fn viewer_joining_mid_rush(socket: &str) {
    let s = Server::start().await;
    let id = seated_sale(&s, json!({})).await;
    let us = s.users(12, "r").await;
    let url = format!("{}/api/sales/{id}/{socket}", s.base.replace("http://", "ws://"));
    let mut acked: BTreeSet<u32> = BTreeSet::new();
    let mut viewer = Viewer::default();
    let mut ws = None;
    for (i, u) in us.iter().enumerate() {
        if i == 4 {
            let (socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            ws = Some(socket);
        }
        let r = hold(&s, id, u, json!({"best": {"count": 2}})).await;
        if r.status == 201 {
            let h = r.json();
            acked.extend(seat_ids(&h).into_iter().map(|x| x as u32));
            if i % 3 == 0 {
                // Some give their seats back: the map must show them free again.
                s.delete(&format!("/api/sales/{id}/seats/holds/{}", h["id"]), Some(&u.token)).await.ok(200);
                for x in seat_ids(&h) {
                    acked.remove(&(x as u32));
                }
            }
        } else {
            r.problem(409, "/problems/no-adjacent-seats");
        }
    }
    // Deltas go out at most every 100 ms: wait for the viewer to catch up,
    // message by message, then compare it with what the server says now.
    let mut ws = ws.unwrap();
    while viewer.taken != acked || viewer.snapshots == 0 {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap_or_else(|_| panic!("the viewer saw {:?}, acknowledged {acked:?}", viewer.taken));
        if let Message::Text(t) = msg.expect("open").expect("no error") {
            viewer.apply(&serde_json::from_str(t.as_str()).unwrap());
        }
    }
    let server = s.get(&format!("/api/sales/{id}/seats"), None).await.ok(200);
    assert_eq!(snapshot_bits(&server), acked, "the server's map is the acknowledged seats");
    assert_eq!(server["seq"].as_u64(), Some(viewer.seq), "nothing newer was published");
    assert_eq!(viewer.taken, acked, "snapshot plus deltas add up to the server's state");
}
