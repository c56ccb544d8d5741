//! Problems a page can word in its own language (issue 9, item 5), opening
//! times in the past, sections that overlap, and a sale's text in Korean
//! (item 9).

use serde_json::{Value, json};

use crate::common::*;

fn stock(over: Value) -> Value {
    let mut b = json!({"kind": "stock", "title": "T", "stock": 10, "price": 100, "per_person_limit": 2,
        "order_quantity_max": 2, "hold_seconds": 60});
    if let (Some(b), Some(o)) = (b.as_object_mut(), over.as_object()) {
        b.extend(o.clone());
    }
    b
}

fn at(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).expect("time").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_field_comes_with_its_name_rule_and_bounds() {
    let s = Server::start().await;
    let p = s.post("/api/sales", Some(ADMIN), stock(json!({"stock": 0}))).await.problem(422, "/problems/invalid-field");
    assert_eq!(
        (&p["field"], &p["rule"], &p["min"], &p["max"]),
        (&json!("stock"), &json!("range"), &json!(1), &json!(100_000_000))
    );
    assert_eq!(p["detail"], "stock must be between 1 and 100000000", "detail stays English for API users");

    let p =
        s.post("/api/sales", Some(ADMIN), stock(json!({"title": ""}))).await.problem(422, "/problems/invalid-field");
    assert_eq!(
        (&p["field"], &p["rule"], &p["min"], &p["max"]),
        (&json!("title"), &json!("length"), &json!(1), &json!(200))
    );

    let room = json!({"waiting_room": {"policy": "chunk", "chunk_seconds": 0.01}});
    let p = s.post("/api/sales", Some(ADMIN), stock(room)).await.problem(422, "/problems/invalid-field");
    assert_eq!(
        (&p["field"], &p["rule"], &p["min"], &p["max"]),
        (&json!("waiting_room.chunk_seconds"), &json!("range"), &json!(0.05), &json!(3600.0))
    );

    for (over, field, rule) in [
        (json!({"currency": "WONS"}), "currency", "format"),
        (json!({"opens_at": "tomorrow"}), "opens_at", "format"),
        (json!({"opens_at": "2031-01-02T00:00:00Z", "closes_at": "2031-01-01T00:00:00Z"}), "closes_at", "after"),
    ] {
        let p = s.post("/api/sales", Some(ADMIN), stock(over)).await.problem(422, "/problems/invalid-field");
        assert_eq!((p["field"].as_str(), p["rule"].as_str()), (Some(field), Some(rule)), "{p}");
        assert!(p.get("min").is_none(), "{p}");
    }

    // A quantity out of bounds names its range too.
    let id = s.open_stock_sale(json!({})).await;
    let u = s.users(1, "qty").await.remove(0);
    let p = s.reserve(id, &u.token, 0).await.problem(422, "/problems/bad-quantity");
    assert_eq!(
        (&p["field"], &p["rule"], &p["min"], &p["max"]),
        (&json!("quantity"), &json!("range"), &json!(1), &json!(3))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opening_time_in_the_past_is_refused_beyond_a_few_minutes() {
    let s = Server::start().await;
    for body in [
        stock(json!({"opens_at": "2020-01-01T00:00:00Z"})),
        stock(json!({"opens_at": at(now_us() - 10 * 60 * 1_000_000)})),
        json!({"kind": "drop", "title": "D", "winners": 1, "opens_at": "2020-06-01T10:00:00Z"}),
    ] {
        let p = s.post("/api/sales", Some(ADMIN), body).await.problem(422, "/problems/invalid-field");
        assert_eq!((p["field"].as_str(), p["rule"].as_str()), (Some("opens_at"), Some("future")), "{p}");
        assert!(p["detail"].as_str().unwrap_or_default().contains("past"), "{p}");
    }
    let p = s
        .post("/api/sales", Some(ADMIN), stock(json!({"closes_at": "2021-01-01T00:00:00Z"})))
        .await
        .problem(422, "/problems/invalid-field");
    assert_eq!((p["field"].as_str(), p["rule"].as_str()), (Some("closes_at"), Some("future")), "{p}");
    assert_eq!(s.get("/api/sales", None).await.ok(200)["sales"], json!([]), "nothing was created");
    // A minute ago is a form filled in slowly: accepted, and open at once.
    let sale = s.post("/api/sales", Some(ADMIN), stock(json!({"opens_at": at(now_us() - 60_000_000)}))).await.ok(201);
    assert_eq!(sale["status"], "open");
    s.post("/api/sales", Some(ADMIN), stock(json!({"opens_at": at(now_us() + 3_600_000_000)}))).await.ok(201);
}

fn block(name: &str, rows: u32, seats: u32, x: i32, y: i32, curve: f64) -> Value {
    json!({"name": name, "tier": "R", "price": 1000, "colour": "#336699", "rows": rows, "seats_per_row": seats,
           "x": x, "y": y, "curve_degrees": curve, "spacing": 10})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sections_that_overlap_are_refused_with_their_names() {
    let s = Server::start().await;
    let org = s.organizer("hall").await;
    // The old demo hall: the curved balcony's ends reach over the floor and both wings.
    let old_hall = json!([
        block("Floor", 12, 24, 0, 40, 0.0),
        block("Left wing", 10, 8, -220, 60, 0.0),
        block("Right wing", 10, 8, 220, 60, 0.0),
        block("Balcony", 8, 40, 0, 200, 50.0),
    ]);
    let sale = json!({"kind": "seated", "title": "Concert", "seated": {"generate": {"name": "Hall", "sections": old_hall},
        "per_person_limit": 4, "hold_seconds": 300}});
    let p = s.post("/api/sales", Some(&org.token), sale).await.problem(422, "/problems/sections-overlap");
    assert_eq!(p["sections"], json!(["Floor", "Balcony"]), "{p}");
    assert!(p["detail"].as_str().unwrap_or_default().contains("overlap"), "{p}");

    // The venue library refuses them too, generated or sent seat by seat.
    let library =
        json!({"generate": {"name": "Hall", "sections": [block("A", 3, 5, 0, 0, 0.0), block("B", 3, 5, 0, 20, 0.0)]}});
    let p = s.post("/api/venues", Some(&org.token), library).await.problem(422, "/problems/sections-overlap");
    assert_eq!(p["sections"], json!(["A", "B"]), "{p}");
    let seat = |x: i32, y: i32| json!({"label": "1", "x": x, "y": y});
    let whole = json!({"name": "Booth", "sections": [
        {"name": "A", "tier": "R", "price": 1, "colour": "#000000", "rows": [{"label": "A", "seats": [seat(0, 0), seat(10, 0)]}]},
        {"name": "B", "tier": "R", "price": 1, "colour": "#000000", "rows": [{"label": "A", "seats": [seat(5, 5), seat(15, 5)]}]}
    ]});
    let p = s.post("/api/venues", Some(&org.token), whole).await.problem(422, "/problems/sections-overlap");
    assert_eq!(p["sections"], json!(["A", "B"]), "{p}");

    // Stacked with an aisle, as the organizer page's builder places them: accepted.
    let apart =
        json!({"generate": {"name": "Hall", "sections": [block("A", 3, 5, 0, 0, 0.0), block("B", 3, 5, 0, 50, 40.0)]}});
    s.post("/api/venues", Some(&org.token), apart).await.ok(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_carries_its_title_and_description_in_korean() {
    let s = Server::start().await;
    let ko = json!({"ko": {"title": "커피 쿠폰", "description": "먼저 클릭한 10명"}});
    let sale = s
        .post(
            "/api/sales",
            Some(ADMIN),
            json!({"kind": "drop", "title": "Coffee", "description": "First 10", "winners": 10,
            "translations": ko}),
        )
        .await
        .ok(201);
    assert_eq!(sale["translations"], ko);
    assert_eq!(sale["title"], "Coffee");
    let id = sale["id"].as_u64().expect("id");
    assert_eq!(s.sale(id).await["translations"]["ko"]["title"], "커피 쿠폰");
    // Without translations the member is absent.
    let plain = s.stock_sale_by(ADMIN, json!({})).await;
    assert!(plain.get("translations").is_none(), "{plain}");
    for bad in [json!({"fr": {"title": "Café"}}), json!({"ko": {"title": ""}})] {
        let p = s
            .post("/api/sales", Some(ADMIN), json!({"kind": "drop", "title": "D", "winners": 1, "translations": bad}))
            .await
            .problem(422, "/problems/invalid-field");
        assert!(p["field"].as_str().unwrap_or_default().starts_with("translations"), "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_declares_the_new_members() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    for member in ["field", "rule", "min", "max", "sections"] {
        assert!(problem.get(member).is_some(), "Problem.{member} in {problem}");
    }
    assert!(doc["components"]["schemas"]["SaleTextRequest"]["properties"]["title"].is_object(), "SaleTextRequest");
    assert!(doc["components"]["schemas"]["SaleOut"]["properties"]["translations"].is_object(), "SaleOut.translations");
}
