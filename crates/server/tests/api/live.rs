//! The sale's one live socket (`GET /api/sales/{id}/live/ws`): its typed
//! messages (`status`, `stock`, `drop`, `queue`, `dashboard`, and `seats`
//! for whoever asks), and who may watch the organizer's dashboard.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{ADMIN, Server, masked};
use crate::seats::{hold as hold_seats, seat_ids, seated_sale, snapshot_bits};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the sale's live socket with these request headers; the refusal's
/// HTTP status when the server does not upgrade.
async fn connect(s: &Server, id: u64, query: &str, headers: &[(&str, &str)]) -> Result<Socket, u16> {
    let url = format!("{}/api/sales/{id}/live/ws{query}", s.base.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    for (name, value) in headers {
        req.headers_mut()
            .insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("connect: {e}"),
    }
}

/// The next JSON message, skipping pings.
async fn next(ws: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a message within 5 s");
        match msg.expect("socket open").expect("no socket error") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Messages until one of `kind` satisfies `done`; returns it and the types seen before it.
async fn until(ws: &mut Socket, kind: &str, done: impl Fn(&Value) -> bool) -> (Value, Vec<String>) {
    let mut seen = Vec::new();
    loop {
        let m = next(ws).await;
        let t = m["type"].as_str().unwrap_or_default().to_owned();
        if t == kind && done(&m) {
            return (m, seen);
        }
        seen.push(t);
    }
}

/// The messages sent at once on connecting: everything the sale has, one of each.
async fn first_messages(ws: &mut Socket, count: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(next(ws).await);
    }
    out
}

fn types(messages: &[Value]) -> Vec<&str> {
    let mut t: Vec<&str> = messages.iter().map(|m| m["type"].as_str().unwrap_or_default()).collect();
    t.sort_unstable();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_sale_streams_status_and_stock_and_each_change() {
    let s = Server::start().await;
    let id = s.open_stock_sale(json!({"stock": 10})).await;
    let buyer = s.users(1, "buyer").await.remove(0);
    let mut ws = connect(&s, id, "", &[]).await.unwrap();
    let first = first_messages(&mut ws, 2).await;
    assert_eq!(types(&first), ["status", "stock"], "{first:?}");
    let stock = first.iter().find(|m| m["type"] == "stock").unwrap();
    assert_eq!((stock["total"].as_u64(), stock["available"].as_u64()), (Some(10), Some(10)), "{stock}");
    let status = first.iter().find(|m| m["type"] == "status").unwrap();
    assert_eq!((status["status"].as_str(), status["sold_out"].as_bool()), (Some("open"), Some(false)));

    let hold = s.hold(id, &buyer.token, 3).await;
    let (held, between) = until(&mut ws, "stock", |m| m["held"] == 3).await;
    assert_eq!(held["available"], 7, "{held}");
    assert!(held["seq"].as_u64() > stock["seq"].as_u64(), "{held}");
    // Nothing else changed: no status message, and no dashboard for a viewer.
    assert!(between.is_empty(), "{between:?}");

    let hold_id = hold["id"].as_u64().unwrap();
    s.post_empty(&format!("/api/sales/{id}/holds/{hold_id}/confirm"), Some(&buyer.token)).await.ok(200);
    let (sold, _) = until(&mut ws, "stock", |m| m["sold"] == 3).await;
    assert_eq!((sold["held"].as_u64(), sold["available"].as_u64()), (Some(0), Some(7)));

    s.post_empty(&format!("/api/sales/{id}/close"), Some(ADMIN)).await.ok(200);
    let started = std::time::Instant::now();
    // The message is awaited (a socket that never told would time out); how
    // long it took is a measurement, not a verdict a loaded machine could flip.
    let (closed, _) = until(&mut ws, "status", |m| m["status"] == "closed").await;
    assert_eq!(closed["sold_out"], false, "{closed}");
    eprintln!("closing reached the live socket {:?} after its answer", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_streams_its_counts_and_leaderboard() {
    let s = Server::start().await;
    let fans = s.users(2, "fan").await;
    let sale =
        s.post("/api/sales", Some(ADMIN), json!({"kind": "drop", "title": "Sneakers", "winners": 1})).await.ok(201);
    let id = sale["id"].as_u64().unwrap();
    s.open(id).await;
    let mut ws = connect(&s, id, "", &[]).await.unwrap();
    let first = first_messages(&mut ws, 2).await;
    assert_eq!(types(&first), ["drop", "status"], "{first:?}");
    let drop = first.iter().find(|m| m["type"] == "drop").unwrap();
    assert_eq!(drop["leaders"], json!([]));
    assert_eq!(drop["left"], 1);

    for fan in &fans {
        s.post_empty(&format!("/api/sales/{id}/clicks"), Some(&fan.token)).await.ok(200);
    }
    let (board, _) = until(&mut ws, "drop", |m| m["clicks"] == 2).await;
    assert_eq!((board["won"].as_u64(), board["left"].as_u64()), (Some(1), Some(0)), "{board}");
    let leaders = board["leaders"].as_array().unwrap();
    assert_eq!(leaders.len(), 2);
    assert_eq!(leaders[0]["rank"], 1);
    assert_eq!(leaders[0]["name"], masked(&fans[0].name));
    assert_eq!((leaders[0]["won"].as_bool(), leaders[1]["won"].as_bool()), (Some(true), Some(false)));
    // The same entries as the REST leaderboard.
    let rest = s.get(&format!("/api/sales/{id}/leaderboard"), None).await.ok(200);
    assert_eq!(rest["entries"].as_array().unwrap(), leaders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_with_a_waiting_room_streams_it_as_queue() {
    let s = Server::start().await;
    let room = json!({"policy": "chunk", "chunk_size": 2, "chunk_seconds": 1.0, "pass_seconds": 60, "pow_bits": 0,
        "places_per_address": 1000});
    let sale = s.stock_sale_by(ADMIN, json!({"waiting_room": room})).await;
    let id = sale["id"].as_u64().unwrap();
    let mut ws = connect(&s, id, "", &[]).await.unwrap();
    let first = first_messages(&mut ws, 3).await;
    assert_eq!(types(&first), ["queue", "status", "stock"], "{first:?}");
    let queue = first.iter().find(|m| m["type"] == "queue").unwrap();
    // The same message as GET queue, typed for this socket.
    let rest = s.get(&format!("/api/sales/{id}/queue"), None).await.ok(200);
    assert_eq!((queue["seq"].clone(), queue["joined"].clone()), (rest["seq"].clone(), rest["joined"].clone()));
    assert_eq!(rest["type"], "status", "the queue's own REST and socket keep their type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_streams_only_to_the_organizer_and_admins() {
    let s = Server::start().await;
    let org = s.organizer("org").await;
    let other = s.organizer("other").await;
    let buyer = s.users(1, "buyer").await.remove(0);
    let sale = s.stock_sale_by(&org.token, json!({"stock": 10, "price": 1000})).await;
    let id = sale["id"].as_u64().unwrap();
    s.open(id).await;
    let bearer = |t: &str| format!("Bearer {t}");

    // Nobody signed in, a buyer, another organizer: refused before the upgrade.
    assert_eq!(connect(&s, id, "?dashboard=true", &[]).await.err(), Some(401));
    for token in [&buyer.token, &other.token] {
        let refused = connect(&s, id, "?dashboard=true", &[("authorization", &bearer(token))]).await.err();
        assert_eq!(refused, Some(403));
    }
    // The owner's credentials from another site's page: refused too.
    let owner = bearer(&org.token);
    let cross = [("authorization", owner.as_str()), ("origin", "https://evil.example")];
    assert_eq!(connect(&s, id, "?dashboard=true", &cross).await.err(), Some(403));
    // Without asking for the dashboard anyone watches the public streams.
    let mut public = connect(&s, id, "", &[("authorization", &bearer(&buyer.token))]).await.unwrap();
    assert_eq!(types(&first_messages(&mut public, 2).await), ["status", "stock"]);

    let origin = s.base.clone();
    let mut ws = connect(&s, id, "?dashboard=true", &[("authorization", &owner), ("origin", &origin)]).await.unwrap();
    let first = first_messages(&mut ws, 3).await;
    assert_eq!(types(&first), ["dashboard", "status", "stock"], "{first:?}");
    let board = first.iter().find(|m| m["type"] == "dashboard").unwrap();
    assert_eq!(
        (board["sold"].as_u64(), board["held"].as_u64(), board["revenue"].as_u64()),
        (Some(0), Some(0), Some(0))
    );

    let hold = s.hold(id, &buyer.token, 2).await;
    let (held, _) = until(&mut ws, "dashboard", |m| m["held"] == 2).await;
    assert_eq!(held["available"], 8, "{held}");
    let hold_id = hold["id"].as_u64().unwrap();
    s.grant(buyer.id, 2000).await;
    s.pay(id, hold_id, &buyer.token).await.ok(200);
    let (sold, _) = until(&mut ws, "dashboard", |m| m["sold"] == 2).await;
    assert_eq!((sold["held"].as_u64(), sold["revenue"].as_u64()), (Some(0), Some(2000)), "{sold}");
    assert!(sold["commands_total"].as_u64() >= Some(2), "{sold}");

    // The public socket never carried the dashboard.
    let (_, seen) = until(&mut public, "stock", |m| m["sold"] == 2).await;
    assert!(!seen.iter().any(|t| t == "dashboard"), "{seen:?}");

    // An admin may watch any sale's dashboard.
    let mut admin = connect(&s, id, "?dashboard=true", &[("authorization", &bearer(ADMIN))]).await.unwrap();
    let (_, _) = until(&mut admin, "dashboard", |m| m["sold"] == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seated_sale_streams_its_seat_map_to_whoever_asks() {
    let s = Server::start().await;
    let id = seated_sale(&s, json!({})).await;
    let buyer = s.users(1, "buyer").await.remove(0);
    let map = s.get(&format!("/api/sales/{id}/seats"), None).await.ok(200);

    // Asked for on connecting: the snapshot comes with the status, and it
    // is `GET seats` typed for this socket.
    let mut asked = connect(&s, id, "?seats=true", &[]).await.unwrap();
    let first = first_messages(&mut asked, 2).await;
    assert_eq!(types(&first), ["seats", "status"], "{first:?}");
    let snapshot = first.iter().find(|m| m["type"] == "seats").unwrap();
    assert_eq!(snapshot["form"], "snapshot", "{snapshot}");
    let mut same = snapshot.clone();
    same["type"] = json!("snapshot");
    same.as_object_mut().unwrap().remove("form");
    assert_eq!(same, map, "the live socket's snapshot is the seat map's");

    // Not asked for: nothing of the map, until the watcher asks.
    let mut later = connect(&s, id, "", &[]).await.unwrap();
    let mut never = connect(&s, id, "", &[]).await.unwrap();
    for ws in [&mut later, &mut never] {
        assert_eq!(types(&first_messages(ws, 1).await), ["status"]);
    }
    later.send(Message::text(r#"{"subscribe":"seats"}"#)).await.unwrap();
    let (late, seen) = until(&mut later, "seats", |_| true).await;
    assert_eq!((late["form"].as_str(), late["seq"].as_u64()), (Some("snapshot"), map["seq"].as_u64()), "{late}");
    assert!(seen.is_empty(), "{seen:?}");

    // A hold: both who asked get the same delta, continuing their snapshot.
    let held = hold_seats(&s, id, &buyer, json!({"best": {"count": 2}})).await.ok(201);
    let mut seats: Vec<u64> = seat_ids(&held);
    seats.sort_unstable();
    for ws in [&mut asked, &mut later] {
        let (delta, seen) = until(ws, "seats", |_| true).await;
        assert_eq!(delta["form"], "delta", "{delta}");
        assert_eq!(delta["seq"].as_u64(), map["seq"].as_u64().map(|q| q + 1), "{delta}");
        assert_eq!(delta["taken"], json!(seats), "{delta}");
        assert_eq!(delta["freed"], json!([]), "{delta}");
        assert!(seen.is_empty(), "{seen:?}");
    }
    // Asking again starts over: a snapshot with the held seats in it.
    later.send(Message::text(r#"{"subscribe":"seats"}"#)).await.unwrap();
    let (again, _) = until(&mut later, "seats", |_| true).await;
    assert_eq!(again["form"], "snapshot", "{again}");
    let mut expected = snapshot_bits(&map);
    expected.extend(seats.iter().map(|x| *x as u32));
    assert_eq!(snapshot_bits(&again), expected, "{again}");

    // The one who never asked saw no seat message before the sale closed.
    s.post_empty(&format!("/api/sales/{id}/close"), Some(ADMIN)).await.ok(200);
    let (_, seen) = until(&mut never, "status", |m| m["status"] == "closed").await;
    assert!(seen.is_empty(), "{seen:?}");
    let (closed, _) = until(&mut asked, "seats", |m| m["status"] == "closed").await;
    assert_eq!(closed["form"], "delta", "a status change is a delta too: {closed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_without_seats_ignores_a_request_for_them() {
    let s = Server::start().await;
    let id = s.open_stock_sale(json!({"stock": 10})).await;
    let buyer = s.users(1, "buyer").await.remove(0);
    let mut ws = connect(&s, id, "?seats=true", &[]).await.unwrap();
    assert_eq!(types(&first_messages(&mut ws, 2).await), ["status", "stock"]);
    ws.send(Message::text(r#"{"subscribe":"seats"}"#)).await.unwrap();
    s.hold(id, &buyer.token, 1).await;
    let (_, seen) = until(&mut ws, "stock", |m| m["held"] == 1).await;
    assert!(seen.is_empty(), "{seen:?}");
}
