//! Runs the bench against a small in-process mock of the API (only the routes
//! the bench uses, following docs/API.md), including mocks with deliberate
//! bugs that the checks must catch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use stampede_bench::{Ack, BenchArgs, BenchError, Scenario, read_acked, run, verify_acked};

#[derive(Default, Clone, Copy)]
struct Bugs {
    /// Ignore the stock when granting holds.
    oversell: bool,
    /// Give the 5th click the rank of the 4th.
    duplicate_rank: bool,
    /// Forget every third hold (not in the listing).
    lose_holds: bool,
    /// Grant every tenth hold, then drop the connection without answering.
    crash_after_grant: bool,
    /// Answer the first hold `503` with `Retry-After: 1` (a full mailbox).
    busy_once: bool,
}

#[derive(Default)]
struct Mock {
    bugs: Bugs,
    tokens: HashMap<String, u64>,
    next_user: u64,
    sales: Vec<Sale>,
    next_hold: u64,
    /// (user, sale, key) -> first answer
    idem: HashMap<(u64, u64, String), (StatusCode, Value)>,
    crashed: std::collections::HashSet<u64>,
    /// `busy_once`: the (user, key) answered 503 and when.
    busy: Option<((u64, String), std::time::Instant)>,
    /// `busy_once`: how long after the 503 the same hold came again.
    busy_retried_after: Option<std::time::Duration>,
}

struct Sale {
    id: u64,
    kind: &'static str,
    open: bool,
    total: u64,
    held: u64,
    sold: u64,
    limit: u64,
    qmax: u64,
    per_user: HashMap<u64, u64>,
    holds: Vec<Hold>,
    winners: u64,
    clicks: Vec<(u64, i64)>,
    clicked: HashMap<u64, u64>,
}

#[derive(Clone)]
struct Hold {
    id: u64,
    user: u64,
    quantity: u64,
    status: &'static str,
}

type Shared = Arc<Mutex<Mock>>;

fn problem(status: StatusCode, kind: &str) -> (StatusCode, Value) {
    (status, json!({"type": kind, "title": kind, "status": status.as_u16()}))
}

fn reply((status, body): (StatusCode, Value)) -> Response {
    (status, Json(body)).into_response()
}

fn user_of(m: &Mock, headers: &HeaderMap) -> Option<u64> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let token = auth.strip_prefix("Bearer ")?;
    if token == "admin" {
        return Some(0);
    }
    m.tokens.get(token).copied()
}

fn sale_json(s: &Sale) -> Value {
    let stock = (s.kind == "stock").then(|| {
        json!({"total": s.total, "available": s.total.saturating_sub(s.held + s.sold),
               "held": s.held, "sold": s.sold, "price": 1000, "currency": "KRW",
               "per_person_limit": s.limit, "order_quantity_max": s.qmax, "hold_seconds": 3600})
    });
    let drop = (s.kind == "drop").then(|| {
        json!({"winners": s.winners, "clicks": s.clicks.len(),
               "won": (s.clicks.len() as u64).min(s.winners)})
    });
    json!({"id": s.id, "kind": s.kind, "title": "t", "description": "", "owner_id": 0,
           "status": if s.open { "open" } else { "scheduled" }, "opens_at": null,
           "closes_at": null, "opened_at": null, "stock": stock, "drop": drop})
}

/// Runs `f` under the idempotency cache of (user, sale, key).
fn idempotent(
    m: &mut Mock,
    user: u64,
    sale: u64,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Mock) -> (StatusCode, Value),
) -> (StatusCode, Value) {
    let key = headers.get("idempotency-key").and_then(|k| k.to_str().ok()).map(str::to_owned);
    if let Some(key) = &key
        && let Some(first) = m.idem.get(&(user, sale, key.clone()))
    {
        return first.clone();
    }
    let answer = f(m);
    if let Some(key) = key {
        m.idem.insert((user, sale, key), answer.clone());
    }
    answer
}

async fn ping() -> &'static str {
    "pong"
}

#[derive(Deserialize)]
struct BulkBody {
    count: u64,
}

async fn bulk(State(s): State<Shared>, headers: HeaderMap, Json(b): Json<BulkBody>) -> Response {
    let mut m = s.lock().unwrap();
    if user_of(&m, &headers) != Some(0) {
        return reply(problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated"));
    }
    let mut users = Vec::new();
    for _ in 0..b.count {
        m.next_user += 1;
        let id = m.next_user;
        let token = format!("stp_{id}");
        m.tokens.insert(token.clone(), id);
        users.push(json!({"id": id, "name": format!("bench{id}"), "token": token}));
    }
    reply((StatusCode::CREATED, json!({"users": users})))
}

async fn create_sale(State(s): State<Shared>, headers: HeaderMap, Json(b): Json<Value>) -> Response {
    let mut m = s.lock().unwrap();
    if user_of(&m, &headers) != Some(0) {
        return reply(problem(StatusCode::FORBIDDEN, "/problems/forbidden"));
    }
    let id = m.sales.len() as u64 + 1;
    let kind = if b["kind"] == "stock" { "stock" } else { "drop" };
    let sale = Sale {
        id,
        kind,
        open: false,
        total: b["stock"].as_u64().unwrap_or(0),
        held: 0,
        sold: 0,
        limit: b["per_person_limit"].as_u64().unwrap_or(0),
        qmax: b["order_quantity_max"].as_u64().unwrap_or(0),
        per_user: HashMap::new(),
        holds: Vec::new(),
        winners: b["winners"].as_u64().unwrap_or(0),
        clicks: Vec::new(),
        clicked: HashMap::new(),
    };
    let body = sale_json(&sale);
    m.sales.push(sale);
    reply((StatusCode::CREATED, body))
}

fn sale_mut(m: &mut Mock, id: u64) -> Option<&mut Sale> {
    m.sales.get_mut(usize::try_from(id).ok()?.checked_sub(1)?)
}

async fn open(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let mut m = s.lock().unwrap();
    if user_of(&m, &headers) != Some(0) {
        return reply(problem(StatusCode::FORBIDDEN, "/problems/forbidden"));
    }
    match sale_mut(&mut m, id) {
        Some(sale) => {
            sale.open = true;
            reply((StatusCode::OK, sale_json(sale)))
        }
        None => reply(problem(StatusCode::NOT_FOUND, "/problems/not-found")),
    }
}

async fn get_sale(State(s): State<Shared>, Path(id): Path<u64>) -> Response {
    let mut m = s.lock().unwrap();
    match sale_mut(&mut m, id) {
        Some(sale) => reply((StatusCode::OK, sale_json(sale))),
        None => reply(problem(StatusCode::NOT_FOUND, "/problems/not-found")),
    }
}

#[derive(Deserialize)]
struct HoldBody {
    quantity: u64,
}

async fn hold(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<u64>, Json(b): Json<HoldBody>) -> Response {
    let mut m = s.lock().unwrap();
    let Some(user) = user_of(&m, &headers) else {
        return reply(problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated"));
    };
    let bugs = m.bugs;
    if bugs.busy_once {
        let key = headers.get("idempotency-key").and_then(|k| k.to_str().ok()).unwrap_or_default().to_owned();
        match &m.busy {
            None => {
                m.busy = Some(((user, key), std::time::Instant::now()));
                let mut res = reply(problem(StatusCode::SERVICE_UNAVAILABLE, "/problems/overloaded"));
                res.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
                return res;
            }
            Some((first, at)) if *first == (user, key) && m.busy_retried_after.is_none() => {
                m.busy_retried_after = Some(at.elapsed());
            }
            Some(_) => {}
        }
    }
    let answer = idempotent(&mut m, user, id, &headers, |m| {
        let hold_id = m.next_hold + 1;
        let Some(sale) = sale_mut(m, id) else {
            return problem(StatusCode::NOT_FOUND, "/problems/not-found");
        };
        if b.quantity < 1 || b.quantity > sale.qmax {
            return problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/bad-quantity");
        }
        let mine = sale.per_user.entry(user).or_default();
        if *mine + b.quantity > sale.limit {
            return problem(StatusCode::CONFLICT, "/problems/limit-reached");
        }
        if !bugs.oversell && sale.held + sale.sold + b.quantity > sale.total {
            return problem(StatusCode::CONFLICT, "/problems/sold-out");
        }
        *mine += b.quantity;
        sale.held += b.quantity;
        if !(bugs.lose_holds && hold_id % 3 == 0) {
            sale.holds.push(Hold { id: hold_id, user, quantity: b.quantity, status: "held" });
        }
        m.next_hold = hold_id;
        (
            StatusCode::CREATED,
            json!({"id": hold_id, "sale_id": id, "quantity": b.quantity, "status": "held",
                   "expires_at": "2030-01-01T00:00:00.000000Z", "amount": 1000 * b.quantity}),
        )
    });
    if bugs.crash_after_grant
        && let Some(hold_id) = answer.1["id"].as_u64()
        && hold_id % 10 == 0
        && m.crashed.insert(hold_id)
    {
        drop(m);
        // Kills this connection: the client sees no answer and must retry.
        panic!("mock crash after granting hold {hold_id}");
    }
    reply(answer)
}

async fn confirm(State(s): State<Shared>, headers: HeaderMap, Path((id, hold_id)): Path<(u64, u64)>) -> Response {
    let mut m = s.lock().unwrap();
    let Some(user) = user_of(&m, &headers) else {
        return reply(problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated"));
    };
    reply(idempotent(&mut m, user, id, &headers, |m| {
        let Some(sale) = sale_mut(m, id) else {
            return problem(StatusCode::NOT_FOUND, "/problems/not-found");
        };
        let Some(h) = sale.holds.iter_mut().find(|h| h.id == hold_id) else {
            return problem(StatusCode::NOT_FOUND, "/problems/not-found");
        };
        if h.user != user {
            return problem(StatusCode::FORBIDDEN, "/problems/not-your-hold");
        }
        if h.status != "held" {
            return problem(StatusCode::CONFLICT, "/problems/hold-not-active");
        }
        h.status = "confirmed";
        let q = h.quantity;
        sale.held -= q;
        sale.sold += q;
        (
            StatusCode::OK,
            json!({"id": hold_id, "sale_id": id, "quantity": q, "status": "confirmed", "amount": 1000 * q}),
        )
    }))
}

async fn click(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let mut m = s.lock().unwrap();
    let Some(user) = user_of(&m, &headers) else {
        return reply(problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated"));
    };
    let bugs = m.bugs;
    reply(idempotent(&mut m, user, id, &headers, |m| {
        let Some(sale) = sale_mut(m, id) else {
            return problem(StatusCode::NOT_FOUND, "/problems/not-found");
        };
        let rank = match sale.clicked.get(&user) {
            Some(&rank) => rank,
            None => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
                let at = sale.clicks.last().map_or(now, |&(_, last)| now.max(last));
                sale.clicks.push((user, at));
                let rank = sale.clicks.len() as u64;
                sale.clicked.insert(user, rank);
                rank
            }
        };
        let at = sale.clicks[rank as usize - 1].1;
        let told = if bugs.duplicate_rank && rank == 5 { 4 } else { rank };
        (
            StatusCode::OK,
            json!({"sale_id": id, "rank": told, "won": told <= sale.winners,
                   "winners": sale.winners, "clicked_at": "x", "clicked_at_us": at,
                   "after_open_ms": 1.0}),
        )
    }))
}

#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    after: Option<u64>,
    limit: Option<usize>,
}

async fn leaderboard(State(s): State<Shared>, Path(id): Path<u64>, Query(p): Query<Page>) -> Response {
    let mut m = s.lock().unwrap();
    let Some(sale) = sale_mut(&mut m, id) else {
        return reply(problem(StatusCode::NOT_FOUND, "/problems/not-found"));
    };
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let entries: Vec<Value> = sale
        .clicks
        .iter()
        .enumerate()
        .skip(offset)
        .take(limit)
        .map(|(i, (_, at))| {
            let rank = i as u64 + 1;
            json!({"rank": rank, "name": "b*h", "won": rank <= sale.winners,
                   "clicked_at": "x", "clicked_at_us": at, "after_open_ms": 1.0})
        })
        .collect();
    reply((StatusCode::OK, json!({"total": sale.clicks.len(), "winners": sale.winners, "entries": entries})))
}

async fn holds(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<u64>, Query(p): Query<Page>) -> Response {
    let mut m = s.lock().unwrap();
    if user_of(&m, &headers) != Some(0) {
        return reply(problem(StatusCode::FORBIDDEN, "/problems/forbidden"));
    }
    let Some(sale) = sale_mut(&mut m, id) else {
        return reply(problem(StatusCode::NOT_FOUND, "/problems/not-found"));
    };
    let limit = p.limit.unwrap_or(1000).clamp(1, 10_000);
    let after = p.after.unwrap_or(0);
    let rows: Vec<&Hold> = sale.holds.iter().filter(|h| h.id > after).take(limit + 1).collect();
    let more = rows.len() > limit;
    let rows = &rows[..rows.len().min(limit)];
    let next_after = if more { rows.last().map(|h| h.id) } else { None };
    let list: Vec<Value> = rows
        .iter()
        .map(|h| json!({"id": h.id, "user_id": h.user, "quantity": h.quantity, "status": h.status}))
        .collect();
    reply((StatusCode::OK, json!({"holds": list, "next_after": next_after})))
}

async fn serve(bugs: Bugs) -> (SocketAddr, Shared) {
    let state: Shared = Arc::new(Mutex::new(Mock { bugs, ..Mock::default() }));
    let app = Router::new()
        .route("/api/ping", get(ping))
        .route("/api/admin/users/bulk", post(bulk))
        .route("/api/sales", post(create_sale))
        .route("/api/sales/{id}", get(get_sale))
        .route("/api/sales/{id}/open", post(open))
        .route("/api/sales/{id}/holds", post(hold).get(holds))
        .route("/api/sales/{id}/holds/{hold}/confirm", post(confirm))
        .route("/api/sales/{id}/clicks", post(click))
        .route("/api/sales/{id}/leaderboard", get(leaderboard))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, state)
}

fn args(addr: SocketAddr, scenario: Scenario) -> BenchArgs {
    BenchArgs {
        target: format!("http://{addr}"),
        scenario,
        duration: 1,
        connections: 8,
        users: 50,
        admin_token: Some("admin".into()),
        quiet: true,
        ..BenchArgs::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_counts_requests() {
    let (addr, _) = serve(Bugs::default()).await;
    let s = run(&args(addr, Scenario::Ping)).await.unwrap();
    assert!(s.ok > 10, "{}", s.report());
    assert_eq!(s.errors, 0, "{}", s.report());
    assert_eq!(s.requests, s.ok);
    assert!(s.rps > 0.0 && s.p50_ms > 0.0 && s.p99_ms >= s.p50_ms);
    assert_eq!(s.statuses.get("200").copied(), Some(s.ok));
    assert!(s.line().starts_with("bench scenario=ping requests="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_backs_off() {
    // Bind then drop: nothing listens on that port any more.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut a = args(addr, Scenario::Ping);
    a.connections = 2;
    let s = run(&a).await.unwrap();
    assert_eq!(s.ok, 0);
    // 1 s with a 50..500 ms backoff: a handful of attempts per connection.
    assert!(s.errors >= 2 && s.errors <= 20, "{}", s.report());
    assert_eq!(s.statuses.get("connect").copied(), Some(s.errors));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_sells_out_without_overselling() {
    let (addr, _) = serve(Bugs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let acked = dir.path().join("acked.jsonl");
    let mut a = args(addr, Scenario::Stock);
    a.stock = 100;
    a.limit = 3;
    a.quantity = 1;
    a.confirm = true;
    a.acked_out = Some(acked.clone());
    let s = run(&a).await.unwrap();
    eprintln!("{}\n{}", s.report(), s.line());
    assert_eq!(s.oversold, 0, "{}", s.report());
    assert_eq!(s.errors, 0, "{}", s.report());
    assert!(s.rejected > 0);
    let extra: HashMap<_, _> = s.extra.iter().cloned().collect();
    assert_eq!(extra["stock"], "100");
    assert_eq!(extra["sold"], "100");
    assert_eq!(extra["held"], "0");
    assert_eq!(extra["available"], "0");
    assert_eq!(extra["acked_qty"], "100");
    assert!(s.problems.contains_key("/problems/sold-out"));

    let records = read_acked(&acked).unwrap();
    let holds = records.iter().filter(|r| matches!(r.what, Ack::Hold { .. })).count();
    let orders = records.iter().filter(|r| matches!(r.what, Ack::Order { .. })).count();
    assert_eq!((holds, orders), (100, 100));

    let v = verify_acked(&a, &acked).await.unwrap();
    assert_eq!((v.checked, v.missing, v.oversold), (200, 0, 0), "{}", v.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_after_lost_answers_take_effect_once() {
    let (addr, _) = serve(Bugs { crash_after_grant: true, ..Bugs::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let acked = dir.path().join("acked.jsonl");
    let mut a = args(addr, Scenario::Stock);
    a.stock = 50;
    // Each lost answer costs a backoff before the retry: on a loaded machine
    // one second did not always leave room for all five.
    a.duration = 5;
    a.acked_out = Some(acked.clone());
    let s = run(&a).await.unwrap();
    eprintln!("{}", s.report());
    assert_eq!(s.errors, 5, "{}", s.report());
    assert_eq!(s.statuses.get("transport").copied(), Some(5));
    assert_eq!(s.oversold, 0);
    let extra: HashMap<_, _> = s.extra.iter().cloned().collect();
    assert_eq!(extra["held"], "50");
    assert_eq!(extra["acked_qty"], "50");
    let v = verify_acked(&a, &acked).await.unwrap();
    assert_eq!((v.checked, v.missing), (50, 0), "{}", v.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_answer_is_retried_after_its_retry_after() {
    let (addr, state) = serve(Bugs { busy_once: true, ..Bugs::default() }).await;
    let mut a = args(addr, Scenario::Stock);
    a.stock = 20;
    a.duration = 3;
    let s = run(&a).await.unwrap();
    eprintln!("{}", s.report());
    // The 503 is counted as an error under its status and problem.
    assert_eq!(s.errors, 1, "{}", s.report());
    assert_eq!(s.statuses.get("503").copied(), Some(1));
    assert_eq!(s.problems.get("/problems/overloaded").copied(), Some(1));
    assert_eq!(s.oversold, 0);
    let extra: HashMap<_, _> = s.extra.iter().cloned().collect();
    assert_eq!(extra["held"], "20");
    assert_eq!(extra["acked_qty"], "20");
    // The same hold came back, not before the second the server asked for
    // (the backoff alone would have waited 50 ms).
    let waited = state.lock().unwrap().busy_retried_after.expect("the busy hold was retried");
    assert!(waited >= std::time::Duration::from_millis(990), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_oversell_is_caught() {
    let (addr, _) = serve(Bugs { oversell: true, ..Bugs::default() }).await;
    let mut a = args(addr, Scenario::Stock);
    a.stock = 20;
    a.limit = 1_000_000;
    let s = run(&a).await.unwrap();
    assert!(s.oversold > 0, "{}", s.report());
    assert!(!s.is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_holds_are_missing() {
    let (addr, _) = serve(Bugs { lose_holds: true, ..Bugs::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let acked = dir.path().join("acked.jsonl");
    let mut a = args(addr, Scenario::Stock);
    a.stock = 30;
    a.acked_out = Some(acked.clone());
    run(&a).await.unwrap();
    let v = verify_acked(&a, &acked).await.unwrap();
    assert_eq!(v.checked, 30);
    assert_eq!(v.missing, 10, "{}", v.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_ranks_everyone_once() {
    let (addr, _) = serve(Bugs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let acked = dir.path().join("acked.jsonl");
    let mut a = args(addr, Scenario::Drop);
    a.users = 120;
    a.winners = 10;
    a.duration = 30; // ends as soon as everyone clicked
    a.acked_out = Some(acked.clone());
    let started = std::time::Instant::now();
    let s = run(&a).await.unwrap();
    assert!(started.elapsed().as_secs() < 10);
    assert_eq!((s.ok, s.errors, s.misranked, s.oversold), (120, 0, 0, 0), "{}", s.report());
    let extra: HashMap<_, _> = s.extra.iter().cloned().collect();
    assert_eq!(extra["winners"], "10");
    assert_eq!(extra["misranked"], "0");
    assert_eq!(extra["clicks"], "120");

    let v = verify_acked(&a, &acked).await.unwrap();
    assert_eq!((v.checked, v.missing, v.oversold), (120, 0, 0), "{}", v.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_duplicate_rank_is_caught() {
    let (addr, _) = serve(Bugs { duplicate_rank: true, ..Bugs::default() }).await;
    let mut a = args(addr, Scenario::Drop);
    a.users = 20;
    a.winners = 4;
    let s = run(&a).await.unwrap();
    eprintln!("{}\n{}", s.report(), s.line());
    // Rank 5 told "4": a duplicate rank and one winner too many.
    assert_eq!(s.misranked, 1, "{}", s.report());
    assert!(s.oversold >= 1, "{}", s.report());
}

#[tokio::test]
async fn admin_token_is_required() {
    let (addr, _) = serve(Bugs::default()).await;
    let mut a = args(addr, Scenario::Stock);
    a.admin_token = None;
    assert!(matches!(run(&a).await, Err(BenchError::MissingAdminToken(_))));
    a.admin_token = Some("wrong".into());
    let err = run(&a).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}
