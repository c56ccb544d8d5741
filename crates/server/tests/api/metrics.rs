//! `GET /metrics` over real HTTP: the series exist and move with what the
//! server did (requests by route template, group commits, mailbox depth,
//! WebSockets, CPU, memory); `--metrics off` serves none; every answer
//! carries a request id, the client's own when it is short and printable.
//!
//! The recorder is one per process and the tests of this binary run in
//! parallel, so counters are compared before and after (they only grow),
//! never to exact values; the WebSocket gauge is this server's own.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use stampede_server::{App, ServerConfig};

use crate::common::{ADMIN, Server};

/// The sum of the samples of `name` whose labels include every `labels` pair
/// (`None` when no sample matches).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name || !labels.iter().all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\""))) {
            continue;
        }
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        *found.get_or_insert(0.0) += value;
    }
    found
}

async fn scrape(s: &Server) -> String {
    let res = s.get("/metrics", None).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.header("content-type").starts_with("text/plain; version=0.0.4"), "{}", res.header("content-type"));
    res.body
}

const HOLDS: &[(&str, &str)] = &[("route", "/api/sales/{id}/holds"), ("method", "POST"), ("outcome", "2xx")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_commits_mailboxes_and_the_process() {
    let s = Server::start().await;
    let sale = s.open_stock_sale(json!({"stock": 100})).await;
    let users = s.users(3, "metric").await;
    let before = scrape(&s).await;
    let holds_before = sample(&before, "stampede_http_request_duration_seconds_count", HOLDS).unwrap_or(0.0);
    let commits_before = sample(&before, "stampede_log_commit_seconds_count", &[]).unwrap_or(0.0);
    let cpu_before = sample(&before, "process_cpu_seconds_total", &[]).expect("process CPU");

    for u in &users {
        s.hold(sale, &u.token, 1).await;
    }
    let refused = s.reserve(sale, &users[0].token, 99).await;
    assert!(refused.status >= 400 && refused.status < 500, "{}", refused.body);

    let after = scrape(&s).await;
    let holds_after = sample(&after, "stampede_http_request_duration_seconds_count", HOLDS).expect("hold series");
    assert!(holds_after >= holds_before + 3.0, "{holds_before} -> {holds_after}");
    let four = [("route", "/api/sales/{id}/holds"), ("method", "POST"), ("outcome", "4xx")];
    assert!(sample(&after, "stampede_http_request_duration_seconds_count", &four).is_some_and(|n| n >= 1.0));
    // Buckets end in +Inf and count every answer.
    let inf = [HOLDS, &[("le", "+Inf")]].concat();
    assert_eq!(sample(&after, "stampede_http_request_duration_seconds_bucket", &inf), Some(holds_after));
    assert!(!after.contains(&format!("/api/sales/{sale}/holds")), "a raw path became a label");

    let commits = sample(&after, "stampede_log_commit_seconds_count", &[]).expect("commit latency");
    assert!(commits >= commits_before + 1.0, "{commits_before} -> {commits}");
    assert!(sample(&after, "stampede_log_batch_entries_sum", &[]).is_some_and(|n| n >= 4.0), "batch sizes");
    assert!(sample(&after, "stampede_sale_mailbox_depth_count", &[]).is_some_and(|n| n >= 4.0), "mailbox depth");
    assert!(sample(&after, "stampede_replay_duration_seconds", &[]).is_some(), "replay duration");
    let cpu = sample(&after, "process_cpu_seconds_total", &[]).expect("process CPU");
    assert!(cpu >= cpu_before, "CPU went back: {cpu_before} -> {cpu}");
    let rss = sample(&after, "process_resident_memory_bytes", &[]).expect("RSS");
    assert!(rss > 1e6, "{rss} bytes resident");
}

/// The Grafana dashboard (`deploy/grafana/stampede.json`) plots only series
/// the server serves, so a renamed metric cannot leave a panel empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_names_only_series_the_server_serves() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/stampede.json");
    let dashboard = std::fs::read_to_string(&path).expect("the dashboard");
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let s = Server::start().await;
    s.open_stock_sale(json!({})).await;
    let served = scrape(&s).await;
    let mut named = std::collections::BTreeSet::new();
    for prefix in ["stampede_", "process_"] {
        for (at, _) in dashboard.match_indices(prefix) {
            let name: String = dashboard[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            named.insert(name);
        }
    }
    assert!(named.len() >= 10, "{named:?}");
    for name in &named {
        let exposed = served
            .lines()
            .any(|l| l.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')));
        assert!(exposed, "the dashboard plots {name}, which /metrics does not serve");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_gauge_rises_and_falls_with_a_socket() {
    let s = Server::start().await;
    let sale = s.open_stock_sale(json!({})).await;
    assert_eq!(sample(&scrape(&s).await, "stampede_websockets_open", &[]), Some(0.0));

    let url = format!("{}/api/sales/{sale}/live/ws", s.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
    // The first message means the server's handler runs, its guard counted.
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a first message");
    assert!(first.is_some_and(|m| m.is_ok()));
    assert_eq!(sample(&scrape(&s).await, "stampede_websockets_open", &[]), Some(1.0));
    assert_eq!(sample(&scrape(&s).await, "stampede_websockets_peak", &[]), Some(1.0));

    ws.close(None).await.expect("close");
    // The server drops its guard once it has read the close: watch it happen.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let open = sample(&scrape(&s).await, "stampede_websockets_open", &[]);
        if open == Some(0.0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {open:?} open 5 s after the close");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sample(&scrape(&s).await, "stampede_websockets_peak", &[]), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_metrics_off_the_route_answers_404() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        admin_token: Some(ADMIN.into()),
        connections_max: 100,
        engine: Default::default(),
        public_url: None,
        metrics: false,
    };
    let app = App::open(&config).expect("open");
    assert!(app.state.metrics.is_none());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(stampede_server::serve(listener, app.state, 100, std::future::pending()));
    let res = reqwest::get(format!("http://{addr}/metrics")).await.expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = res.json().await.expect("problem");
    assert_eq!(problem["type"], "/problems/not-found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_and_a_bad_incoming_one_is_replaced() {
    let s = Server::start().await;
    let id_of = |res: &reqwest::Response| {
        res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned).expect("x-request-id")
    };
    let send = |id: Option<&str>| {
        let mut rb = s.request(reqwest::Method::GET, "/api/ping");
        if let Some(id) = id {
            rb = rb.header("x-request-id", id);
        }
        rb.send()
    };

    let kept = send(Some("checkout-7f3a.2")).await.expect("ping");
    assert_eq!(id_of(&kept), "checkout-7f3a.2");

    let fresh = id_of(&send(None).await.expect("ping"));
    let uuid = uuid::Uuid::parse_str(&fresh).unwrap_or_else(|e| panic!("{fresh}: {e}"));
    assert_eq!(uuid.get_version_num(), 4);
    assert_ne!(fresh, id_of(&send(None).await.expect("ping")), "two requests, one id");

    let too_long = "x".repeat(stampede_server::request_id::REQUEST_ID_LEN_MAX + 1);
    for bad in ["has a space", too_long.as_str()] {
        let replaced = id_of(&send(Some(bad)).await.expect("ping"));
        assert_ne!(replaced, bad);
        assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{bad:?} became {replaced:?}");
    }

    // Problems and unknown routes carry one too.
    let missing = s.request(reqwest::Method::GET, "/api/nothing-here").header("x-request-id", "lost-1").send();
    let missing = missing.await.expect("request");
    assert_eq!(missing.status(), 404);
    assert_eq!(id_of(&missing), "lost-1");
}
