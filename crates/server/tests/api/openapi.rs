//! The OpenAPI document tells the truth (issue 9, item 20): every answer the
//! shared extractors give is declared, as `application/problem+json`; bounds
//! are declared; seat rows are tuples; `2124.0` is the integer 2124.
//! `scripts/schemathesis.sh` fuzzes the whole document; these tests pin the
//! cases the issue named and run with `cargo test`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{ADMIN, Server};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Every `(method, path, operation)` of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Asserts that `op` declares `status` with the content type the answer had.
#[track_caller]
fn declared(op: &Value, method: &str, path: &str, status: u16, content_type: &str, body: &str) {
    let response = &op["responses"][status.to_string()];
    assert!(response.is_object(), "{method} {path} answered {status} ({body}), which it does not declare");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    assert!(
        response["content"].get(essence).is_some(),
        "{method} {path} answered {status} as {essence}, declared as {}",
        response["content"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_are_declared_as_problem_json() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    let mut problems = 0;
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                if content["schema"]["$ref"] == "#/components/schemas/Problem" {
                    assert_eq!(media, "application/problem+json", "{method} {path} {status}");
                    problems += 1;
                }
            }
        }
    }
    assert!(problems > 100, "only {problems} problem answers declared");
}

/// The statuses the issue found undocumented, and the extractors' answers on
/// every route: each is provoked and must be declared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_extractor_answer_is_declared() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    let user = s.users(1, "probe").await.remove(0);
    let stock = s.open_stock_sale(json!({})).await;
    for (method, path, op) in operations(&doc) {
        if path.ends_with("/ws") {
            continue; // the WebSocket upgrade routes answer their own way
        }
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let concrete = |id: &str| {
            path.replace("{id}", id).replace("{hold}", "1").replace("{order}", "1").replace("{user_id}", "1")
        };
        let token = if op.get("security").is_some() { Some(user.token.as_str()) } else { None };
        let mut probes = Vec::new();
        if op.get("security").is_some() {
            probes.push(s.request(m.clone(), &concrete(&stock.to_string())));
        }
        if path.contains('{') {
            let rb = s.request(m.clone(), &concrete("18446744073709551615")).bearer_auth(ADMIN);
            probes.push(if op.get("requestBody").is_some() { rb.json(&json!({})) } else { rb });
        }
        if op.get("requestBody").is_some() {
            let rb = s.request(m.clone(), &concrete(&stock.to_string())).header("content-type", "application/json");
            let rb = match token {
                Some(t) => rb.bearer_auth(t),
                None => rb,
            };
            probes.push(rb.body("{\"unterminated\": "));
        }
        for rb in probes {
            let r = s.send(rb).await;
            declared(&op, &method, &path, r.status, r.header("content-type"), &r.body);
        }
    }
}

/// The WebSocket routes are not fuzzed (an upgrade is no HTTP answer), so
/// their refusal of a plain GET is checked here. Its content type is issue 9's
/// item 19.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_get_of_a_websocket_route_is_a_declared_refusal() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    let stock = s.open_stock_sale(json!({})).await;
    for path in ["/api/sales/{id}/queue/ws", "/api/sales/{id}/seats/ws", "/api/sales/{id}/live/ws"] {
        let r = s.get(&path.replace("{id}", &stock.to_string()), None).await;
        assert!(doc["paths"][path]["get"]["responses"][r.status.to_string()].is_object(), "{path}: {}", r.status);
        assert!(r.status >= 400 && r.status < 500, "{path}: {}", r.status);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_sale_kind_and_unknown_sales_are_declared() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    let stock = s.open_stock_sale(json!({})).await;
    let drop = s.post("/api/sales", Some(ADMIN), json!({"kind": "drop", "title": "D", "winners": 1})).await.ok(201);
    let drop = drop["id"].as_u64().expect("id");
    s.open(drop).await;
    let op = |m: &str, p: &str| doc["paths"][p][m].clone();
    let probes = [
        ("post", "/api/sales/{id}/clicks", format!("/api/sales/{stock}/clicks"), 409),
        ("post", "/api/sales/{id}/holds", format!("/api/sales/{drop}/holds"), 409),
        ("get", "/api/sales/{id}/seats", format!("/api/sales/{stock}/seats"), 409),
        ("get", "/api/sales/{id}/leaderboard", format!("/api/sales/{stock}/leaderboard"), 409),
        ("post", "/api/sales/{id}/open", "/api/sales/999/open".to_owned(), 404),
        ("post", "/api/sales/{id}/close", "/api/sales/999/close".to_owned(), 404),
        ("post", "/api/sales/{id}/clicks", "/api/sales/999/clicks".to_owned(), 404),
        ("get", "/api/sales/{id}/results", "/api/sales/999/results".to_owned(), 404),
    ];
    for (method, path, url, status) in probes {
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let rb = s.request(m, &url).bearer_auth(ADMIN);
        let rb = if method == "post" && path.ends_with("holds") { rb.json(&json!({"quantity": 1})) } else { rb };
        let r = s.send(rb).await;
        assert_eq!(r.status, status, "{method} {url}: {}", r.body);
        declared(&op(method, path), method, path, r.status, r.header("content-type"), &r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_with_a_zero_fraction_is_that_integer() {
    let s = Server::start().await;
    let u = s.users(1, "float").await.remove(0);
    let id = s.open_stock_sale(json!({})).await;
    let h = s.post_raw(&format!("/api/sales/{id}/holds"), Some(&u.token), r#"{"quantity": 2.0}"#).await.ok(201);
    assert_eq!(h["quantity"], 2);
    let sale =
        s.post("/api/sales", Some(ADMIN), json!({"kind": "drop", "title": "D", "winners": 2124.0})).await.ok(201);
    assert_eq!(sale["drop"]["winners"], 2124);
    // A fraction, or an integral number no integer type holds, is still not an integer.
    for q in ["1.5", "1e30", "-0.5"] {
        s.post_raw(&format!("/api/sales/{id}/holds"), Some(&u.token), format!(r#"{{"quantity": {q}}}"#))
            .await
            .problem(400, "/problems/malformed-json");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounds_are_declared_as_the_server_checks_them() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    let schemas = &doc["components"]["schemas"];
    let stock = schemas["CreateSaleRequest"]["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .find(|v| v["properties"]["kind"]["enum"] == json!(["stock"]))
        .expect("the stock variant")
        .clone();
    let bounds = |v: &Value| (v["minimum"].as_f64(), v["maximum"].as_f64());
    let p = &stock["properties"];
    use stampede_server::routes::sales as rules;
    assert_eq!(bounds(&p["stock"]), (Some(1.0), Some(rules::STOCK_MAX as f64)));
    assert_eq!(bounds(&p["price"]), (Some(0.0), Some(rules::PRICE_MAX as f64)));
    assert_eq!(bounds(&p["per_person_limit"]), (Some(1.0), Some(rules::PER_PERSON_MAX as f64)));
    assert_eq!(bounds(&p["order_quantity_max"]), (Some(1.0), Some(rules::PER_PERSON_MAX as f64)));
    let hold = (Some(rules::HOLD_SECONDS_MIN as f64), Some(rules::HOLD_SECONDS_MAX as f64));
    assert_eq!(bounds(&p["hold_seconds"]), hold);
    let room = &schemas["WaitingRoomRequest"]["properties"];
    assert_eq!(bounds(&room["chunk_seconds"]), (Some(rules::CHUNK_SECONDS_MIN), Some(rules::CHUNK_SECONDS_MAX)));
    assert_eq!(bounds(&room["pow_bits"]), (Some(0.0), Some(f64::from(stampede_core::POW_BITS_MAX))));
    assert_eq!(bounds(&room["pass_seconds"]), hold);
    assert_eq!(
        bounds(&schemas["ReserveRequest"]["properties"]["quantity"]),
        (Some(1.0), Some(rules::PER_PERSON_MAX as f64))
    );
    assert_eq!(bounds(&schemas["PowRequest"]["properties"]["pow_bits"]), (Some(0.0), Some(28.0)));
    let best = &schemas["BestRequest"]["properties"]["count"];
    assert_eq!(bounds(best), (Some(1.0), Some(stampede_server::routes::seats::SEATS_PER_HOLD_LIMIT as f64)));
    // An id or seat number declares the range its Rust type reads.
    let release = &schemas["ReleaseSeatRequest"]["properties"]["seat"];
    assert_eq!(bounds(release), (Some(0.0), Some(f64::from(u32::MAX))));
    let limit = doc["paths"]["/api/sales/{id}/leaderboard"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit")["schema"]
        .clone();
    assert_eq!(bounds(&limit), (Some(1.0), Some(rules::LEADERBOARD_PAGE_MAX as f64)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_rows_are_declared_as_the_tuples_they_are() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    let seats = &doc["components"]["schemas"]["RowLayoutOut"]["properties"]["seats"];
    let tuple = &seats["items"];
    assert_eq!(tuple["type"], "array", "{seats}");
    assert_eq!(tuple["prefixItems"][0]["type"], "string", "{seats}");
    assert_eq!(tuple["prefixItems"][1]["type"], "integer", "{seats}");
    assert_eq!(tuple["prefixItems"][2]["type"], "integer", "{seats}");
    assert_eq!(tuple["items"], false, "{seats}");
    let generate = json!({"name": "Hall", "sections": [{"name": "Floor", "tier": "A", "price": 1000,
        "colour": "#336699", "rows": 1, "seats_per_row": 2, "x": 0, "y": 0, "curve_degrees": 0, "spacing": 10}]});
    let sale = s
        .post(
            "/api/sales",
            Some(ADMIN),
            json!({"kind": "seated", "title": "S",
            "seated": {"per_person_limit": 2, "hold_seconds": 60, "generate": generate}}),
        )
        .await
        .ok(201);
    let venue = s.get(&format!("/api/sales/{}/venue", sale["id"]), None).await.ok(200);
    let seat = &venue["sections"][0]["rows"][0]["seats"][0];
    assert!(
        seat[0].is_string() && seat[1].is_i64() && seat[2].is_i64() && seat.as_array().map(Vec::len) == Some(3),
        "{seat}"
    );
}

/// The cap on requests in flight can shed any route but the health checks,
/// the admin's statistics and the metrics, so every other operation declares
/// its 503 with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_that_can_be_shed_declares_503_with_retry_after() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    let mut shed = 0;
    for (method, path, op) in operations(&doc) {
        let busy = &op["responses"]["503"];
        if matches!(path.as_str(), "/healthz" | "/readyz" | "/api/admin/stats" | "/metrics") {
            // `/readyz` answers 503 when not ready; that is not shedding.
            let said = busy["description"].as_str().unwrap_or_default();
            assert!(!said.contains("as many requests"), "{method} {path} is never shed but says so: {said}");
            continue;
        }
        assert!(busy.is_object(), "{method} {path} can be shed but does not declare 503");
        assert!(busy["headers"]["retry-after"].is_object(), "{method} {path}: 503 without retry-after");
        shed += 1;
    }
    assert!(shed > 40, "only {shed} operations");
}
