//! Runs the seats scenario against a small in-process mock of the seat API
//! (sale creation from a generated venue, layout, holds, confirmations, the
//! seat map snapshot and its WebSocket), including mocks with deliberate bugs
//! that the checks must catch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use stampede_bench::{BenchArgs, Scenario, Summary, run};
use tokio::sync::broadcast;

#[derive(Default, Clone, Copy)]
struct Bugs {
    /// Grant named seats without looking whether they are taken.
    double_sell: bool,
    /// Count the 5th change but never send it to viewers.
    lose_delta: bool,
}

struct Section {
    name: String,
    tier: String,
    /// (first seat, seats) per row.
    rows: Vec<(u32, u32)>,
}

struct Mock {
    bugs: Bugs,
    tokens: HashMap<String, u64>,
    next_user: u64,
    sections: Vec<Section>,
    seats: u32,
    /// Hold id per seat; 0 when free.
    owner: Vec<u64>,
    /// Hold id to (booker, seats, status).
    holds: HashMap<u64, (u64, Vec<u32>, &'static str)>,
    next_hold: u64,
    per_user: HashMap<u64, u32>,
    idem: HashMap<(u64, String), (StatusCode, Value)>,
    seq: u64,
    changes: u64,
    tx: broadcast::Sender<String>,
}

type Shared = Arc<Mutex<Mock>>;

fn problem(status: StatusCode, kind: &str) -> (StatusCode, Value) {
    (status, json!({"type": kind, "title": kind, "status": status.as_u16()}))
}

fn reply((status, body): (StatusCode, Value)) -> Response {
    (status, Json(body)).into_response()
}

fn user_of(m: &Mock, headers: &HeaderMap) -> Option<u64> {
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?;
    if token == "admin" { Some(0) } else { m.tokens.get(token).copied() }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let acc = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for k in 0..4 {
            out.push(if k <= chunk.len() { char::from(A[((acc >> (18 - 6 * k)) & 63) as usize]) } else { '=' });
        }
    }
    out
}

impl Mock {
    fn taken(&self) -> u32 {
        self.owner.iter().filter(|&&o| o != 0).count() as u32
    }

    fn section_free(&self) -> Vec<u32> {
        self.sections
            .iter()
            .map(|s| s.rows.iter().flat_map(|&(f, n)| f..f + n).filter(|&i| self.owner[i as usize] == 0).count() as u32)
            .collect()
    }

    fn snapshot(&self) -> String {
        let mut bits = vec![0u8; (self.seats as usize).div_ceil(8)];
        for (i, &o) in self.owner.iter().enumerate() {
            if o != 0 {
                bits[i / 8] |= 1 << (i % 8);
            }
        }
        json!({"type": "snapshot", "seq": self.seq, "sale_id": 1, "status": "open", "seats": self.seats,
               "available": self.seats - self.taken(), "sections": self.section_free(), "taken": base64(&bits)})
        .to_string()
    }

    fn publish(&mut self, taken: &[u32]) {
        self.seq += 1;
        self.changes += 1;
        let delta = json!({"type": "delta", "seq": self.seq, "sale_id": 1, "status": "open",
                           "available": self.seats - self.taken(), "sections": self.section_free(),
                           "taken": taken, "freed": []});
        if !(self.bugs.lose_delta && self.changes == 5) {
            let _ = self.tx.send(delta.to_string());
        }
    }

    fn hold_out(&self, id: u64) -> Value {
        let (by, seats, status) = &self.holds[&id];
        let seats: Vec<Value> = seats
            .iter()
            .map(|s| {
                json!({"id": s, "section": "?", "row": "?", "label": "?",
                                                            "holder_id": by, "price": 1})
            })
            .collect();
        json!({"id": id, "sale_id": 1, "booker_id": by, "status": status, "expires_at": "x",
               "expires_at_us": 0, "amount": 1, "currency": "KRW", "seats": seats, "released": []})
    }

    fn best(&self, body: &Value, count: u32) -> Option<Vec<u32>> {
        let area: Vec<usize> = (0..self.sections.len())
            .filter(|&i| {
                let s = &self.sections[i];
                match (&body["section"], &body["tier"]) {
                    (Value::Number(n), _) => n.as_u64() == Some(i as u64),
                    (Value::String(n), _) => *n == s.name,
                    (_, Value::String(t)) => *t == s.tier,
                    _ => true,
                }
            })
            .collect();
        let depth = area.iter().map(|&i| self.sections[i].rows.len()).max().unwrap_or(0);
        for d in 0..depth {
            for &i in &area {
                let Some(&(first, len)) = self.sections[i].rows.get(d) else { continue };
                let mut run = 0;
                for seat in first..first + len {
                    run = if self.owner[seat as usize] == 0 { run + 1 } else { 0 };
                    if run == count {
                        return Some((seat + 1 - count..=seat).collect());
                    }
                }
            }
        }
        None
    }
}

async fn bulk(State(s): State<Shared>, Json(b): Json<Value>) -> Response {
    let mut m = s.lock().unwrap();
    let mut users = Vec::new();
    for _ in 0..b["count"].as_u64().unwrap() {
        m.next_user += 1;
        let id = m.next_user;
        m.tokens.insert(format!("stp_{id}"), id);
        users.push(json!({"id": id, "name": format!("bench{id}"), "token": format!("stp_{id}")}));
    }
    reply((StatusCode::CREATED, json!({"users": users})))
}

fn sale_json(m: &Mock) -> Value {
    let taken = m.taken();
    let sold: u32 = m.holds.values().filter(|h| h.2 == "confirmed").map(|h| h.1.len() as u32).sum();
    json!({"id": 1, "kind": "seated", "status": "open", "stock": null, "drop": null,
           "seated": {"total": m.seats, "available": m.seats - taken, "held": taken - sold, "sold": sold}})
}

async fn create_sale(State(s): State<Shared>, headers: HeaderMap, Json(b): Json<Value>) -> Response {
    let mut m = s.lock().unwrap();
    assert_eq!(user_of(&m, &headers), Some(0));
    assert_eq!(b["kind"], "seated");
    let mut next = 0;
    for spec in b["seated"]["generate"]["sections"].as_array().unwrap() {
        let (rows, per_row) = (spec["rows"].as_u64().unwrap() as u32, spec["seats_per_row"].as_u64().unwrap() as u32);
        let rows = (0..rows)
            .map(|_| {
                next += per_row;
                (next - per_row, per_row)
            })
            .collect();
        m.sections.push(Section {
            name: spec["name"].as_str().unwrap().into(),
            tier: spec["tier"].as_str().unwrap().into(),
            rows,
        });
    }
    m.seats = next;
    m.owner = vec![0; next as usize];
    reply((StatusCode::CREATED, sale_json(&m)))
}

async fn get_sale(State(s): State<Shared>) -> Response {
    reply((StatusCode::OK, sale_json(&s.lock().unwrap())))
}

async fn venue(State(s): State<Shared>) -> Response {
    let m = s.lock().unwrap();
    let sections: Vec<Value> = m
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let rows: Vec<Value> = s
                .rows
                .iter()
                .map(|&(f, n)| {
                    json!({"label": "A", "first_seat": f,
                                      "seats": (0..n).map(|k| json!([k.to_string(), 0, 0])).collect::<Vec<_>>()})
                })
                .collect();
            json!({"index": i, "name": s.name, "tier": s.tier, "price": 1, "colour": "#000",
                   "first_seat": s.rows[0].0, "rows": rows})
        })
        .collect();
    reply((StatusCode::OK, json!({"name": "Stadium", "seats": m.seats, "sections": sections})))
}

async fn seat_map(State(s): State<Shared>) -> Response {
    let text = s.lock().unwrap().snapshot();
    (StatusCode::OK, text).into_response()
}

async fn watch(State(s): State<Shared>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| viewer(socket, s))
}

async fn viewer(mut socket: WebSocket, s: Shared) {
    let (first, mut rx) = {
        let m = s.lock().unwrap();
        (m.snapshot(), m.tx.subscribe())
    };
    if socket.send(Message::Text(first.into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(text) => if socket.send(Message::Text(text.into())).await.is_err() { return },
                Err(_) => return,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

fn idempotent(
    m: &mut Mock,
    user: u64,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Mock) -> (StatusCode, Value),
) -> (StatusCode, Value) {
    let key = headers.get("idempotency-key").unwrap().to_str().unwrap().to_owned();
    if let Some(first) = m.idem.get(&(user, key.clone())) {
        return first.clone();
    }
    let answer = f(m);
    m.idem.insert((user, key), answer.clone());
    answer
}

async fn hold(State(s): State<Shared>, headers: HeaderMap, Json(b): Json<Value>) -> Response {
    let mut m = s.lock().unwrap();
    let user = user_of(&m, &headers).unwrap();
    reply(idempotent(&mut m, user, &headers, |m| {
        let seats: Vec<u32> = match (&b["seats"], &b["best"]) {
            (Value::Array(a), _) => {
                let seats: Vec<u32> = a.iter().map(|v| v.as_u64().unwrap() as u32).collect();
                let taken: Vec<u32> = seats.iter().copied().filter(|&s| m.owner[s as usize] != 0).collect();
                if !taken.is_empty() && !m.bugs.double_sell {
                    let (status, mut body) = problem(StatusCode::CONFLICT, "/problems/seats-taken");
                    body["seats"] = json!(taken);
                    return (status, body);
                }
                seats
            }
            (_, best) => match m.best(best, best["count"].as_u64().unwrap() as u32) {
                Some(seats) => seats,
                None => return problem(StatusCode::CONFLICT, "/problems/no-adjacent-seats"),
            },
        };
        let mine = m.per_user.entry(user).or_default();
        if *mine + seats.len() as u32 > 4 {
            return problem(StatusCode::CONFLICT, "/problems/limit-reached");
        }
        *mine += seats.len() as u32;
        m.next_hold += 1;
        let id = m.next_hold;
        for &s in &seats {
            m.owner[s as usize] = id;
        }
        m.holds.insert(id, (user, seats.clone(), "held"));
        m.publish(&seats);
        (StatusCode::CREATED, m.hold_out(id))
    }))
}

async fn confirm(State(s): State<Shared>, headers: HeaderMap, Path((_, hold)): Path<(u64, u64)>) -> Response {
    let mut m = s.lock().unwrap();
    let user = user_of(&m, &headers).unwrap();
    reply(idempotent(&mut m, user, &headers, |m| {
        match m.holds.get_mut(&hold) {
            Some(h) if h.0 == user && h.2 == "held" => h.2 = "confirmed",
            _ => return problem(StatusCode::CONFLICT, "/problems/hold-not-active"),
        }
        (StatusCode::OK, m.hold_out(hold))
    }))
}

async fn serve(bugs: Bugs) -> SocketAddr {
    let mock = Mock {
        bugs,
        tokens: HashMap::new(),
        next_user: 0,
        sections: Vec::new(),
        seats: 0,
        owner: Vec::new(),
        holds: HashMap::new(),
        next_hold: 0,
        per_user: HashMap::new(),
        idem: HashMap::new(),
        seq: 1,
        changes: 0,
        tx: broadcast::channel(1 << 16).0,
    };
    let app = Router::new()
        .route("/api/admin/users/bulk", post(bulk))
        .route("/api/sales", post(create_sale))
        .route("/api/sales/{id}", get(get_sale))
        .route("/api/sales/{id}/open", post(get_sale))
        .route("/api/sales/{id}/venue", get(venue))
        .route("/api/sales/{id}/seats", get(seat_map))
        .route("/api/sales/{id}/seats/ws", get(watch))
        .route("/api/sales/{id}/seats/holds", post(hold))
        .route("/api/sales/{id}/seats/holds/{hold}/confirm", post(confirm))
        .with_state(Arc::new(Mutex::new(mock)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn args(addr: SocketAddr) -> BenchArgs {
    BenchArgs {
        target: format!("http://{addr}"),
        scenario: Scenario::Seats,
        connections: 8,
        users: 300,
        viewers: 4,
        ws_sources: 1,
        admin_token: Some("admin".into()),
        quiet: true,
        ..BenchArgs::default()
    }
}

fn extra(s: &Summary, key: &str) -> String {
    s.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no {key}: {s:?}"))
}

fn num(s: &Summary, key: &str) -> u64 {
    extra(s, key).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_are_held_once_and_seen_by_every_viewer() {
    let addr = serve(Bugs::default()).await;
    let s = run(&args(addr)).await.unwrap();
    assert!(s.is_clean(), "{}", s.report());
    assert_eq!((s.errors, s.oversold, s.violations), (0, 0, 0), "{}", s.report());
    assert_eq!(num(&s, "double_sold"), 0);
    assert_eq!(num(&s, "map_mismatch"), 0);
    assert_eq!(num(&s, "viewers"), 4);
    assert_eq!(num(&s, "holds"), 300, "every user holds once (after a collision, best available)");
    assert!(num(&s, "collisions") > 0, "hot picks collide: {}", s.report());
    assert_eq!(s.ok + s.rejected, s.requests);
    assert_eq!(num(&s, "held") + num(&s, "sold"), num(&s, "seats_acked"));
    assert!(num(&s, "confirmed") > 100, "{}", s.report());
    let p99: f64 = extra(&s, "delta_p99_ms").parse().unwrap();
    assert!((0.0..5000.0).contains(&p99));
    assert_eq!(num(&s, "delta_missing"), 0);
    assert!(s.line().contains(" double_sold=0 delta_p99_ms="), "{}", s.line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_selling_is_caught() {
    let addr = serve(Bugs { double_sell: true, ..Bugs::default() }).await;
    let s = run(&args(addr)).await.unwrap();
    assert!(num(&s, "double_sold") > 0, "{}", s.report());
    assert!(!s.is_clean());
    assert!(s.report().contains("acknowledged to holds"), "{}", s.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_delta_is_caught() {
    let addr = serve(Bugs { lose_delta: true, ..Bugs::default() }).await;
    let s = run(&args(addr)).await.unwrap();
    assert_eq!(num(&s, "ws_errors"), 4, "each viewer sees one gap: {}", s.report());
    assert_eq!(s.errors, 4, "{}", s.report());
    assert_eq!(num(&s, "map_mismatch"), 4, "{}", s.report());
    assert!(num(&s, "delta_missing") > 0);
    assert_eq!(num(&s, "double_sold"), 0);
    assert!(!s.is_clean());
}
