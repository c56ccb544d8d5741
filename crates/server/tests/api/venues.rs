//! The venue library over HTTP: import and export give back the same JSON, a
//! 50,000-seat stadium is generated, stored and sold by id, organizers never
//! see each other's venues, participants are refused, and refused requests
//! change nothing.

use serde_json::{Value, json};

use crate::common::{ADMIN, Server};

/// A small venue typed by hand: uneven rows, explicit coordinates.
fn hand_made() -> Value {
    json!({"name": "Jazz Club", "sections": [
        {"name": "Front", "tier": "VIP", "price": 80000, "colour": "#aa2222", "rows": [
            {"label": "A", "seats": [{"label": "1", "x": -10, "y": 0}, {"label": "2", "x": 10, "y": 0}]},
            {"label": "B", "seats": [{"label": "1", "x": -20, "y": 12}, {"label": "2", "x": 0, "y": 12},
                                     {"label": "3", "x": 20, "y": 12}]}]},
        {"name": "Bar", "tier": "R", "price": 30000, "colour": "#2222aa", "rows": [
            {"label": "Stools", "seats": [{"label": "S1", "x": 100, "y": 50}]}]}
    ]})
}

/// 40 sections × 25 rows × 50 seats = 50,000, every other section curved.
fn stadium() -> Value {
    let sections: Vec<Value> = (0..40)
        .map(|i| {
            json!({"name": format!("S{i}"), "tier": if i < 8 { "VIP" } else { "R" }, "price": 50000,
                   "colour": "#336699", "rows": 25, "seats_per_row": 50,
                   "x": (i % 8) * 600, "y": (i / 8) * 400,
                   "curve_degrees": if i % 2 == 0 { 60.0 } else { 0.0 }, "spacing": 10})
        })
        .collect();
    json!({"generate": {"name": "Stadium", "sections": sections}})
}

fn seated_sale_body(seated_venue: Value) -> Value {
    let mut seated = json!({"per_person_limit": 4, "seats_per_hold_max": 4, "hold_seconds": 300});
    if let (Some(s), Some(v)) = (seated.as_object_mut(), seated_venue.as_object()) {
        for (k, v) in v {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"kind": "seated", "title": "Cup final", "currency": "KRW", "seated": seated})
}

#[tokio::test]
async fn an_imported_venue_exports_the_same_json_and_imports_again() {
    let s = Server::start().await;
    let org = s.organizer("vi").await;
    let created = s.post("/api/venues", Some(&org.token), hand_made()).await;
    let location = created.header("location").to_owned();
    let summary = created.ok(201);
    let id = summary["id"].as_u64().unwrap();
    assert_eq!(location, format!("/api/venues/{id}"));
    assert_eq!(summary["owner"], org.id);
    assert_eq!(summary["name"], "Jazz Club");
    assert_eq!(summary["seats"], 6);
    assert_eq!(summary["sections"], 2);
    assert!(summary["created_at"].is_string(), "{summary}");

    let exported = s.get(&location, Some(&org.token)).await;
    assert_eq!(exported.header("cache-control"), "private");
    assert_eq!(exported.ok(200), hand_made(), "export gives back what was imported");

    // The export is accepted as is, and exports to the same bytes.
    let again = s.post_raw("/api/venues", Some(&org.token), exported.body.clone()).await.ok(201);
    let again_id = again["id"].as_u64().unwrap();
    assert_ne!(again_id, id);
    assert_eq!(s.get(&format!("/api/venues/{again_id}"), Some(&org.token)).await.ok(200), hand_made());
    assert_eq!(s.get(&format!("/api/venues/{again_id}"), Some(&org.token)).await.body, exported.body);

    let list = s.get("/api/venues", Some(&org.token)).await.ok(200);
    let ids: Vec<u64> = list["venues"].as_array().unwrap().iter().map(|v| v["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![id, again_id]);
    assert_eq!(list["venues"][0], summary);

    // A sale made from it has exactly its seats; deleting the venue later leaves the sale alone.
    let sale = s.post("/api/sales", Some(&org.token), seated_sale_body(json!({"venue_id": id}))).await.ok(201);
    assert_eq!(sale["seated"]["total"], 6);
    assert_eq!(sale["seated"]["venue"], "Jazz Club");
    assert_eq!(s.delete(&location, Some(&org.token)).await.status, 204);
    s.get(&location, Some(&org.token)).await.problem(404, "/problems/not-found");
    s.delete(&location, Some(&org.token)).await.problem(404, "/problems/not-found");
    let sale_id = sale["id"].as_u64().unwrap();
    assert_eq!(s.sale(sale_id).await["seated"]["total"], 6);
    let layout = s.get(&format!("/api/sales/{sale_id}/venue"), None).await.ok(200);
    assert_eq!(layout["sections"][1]["rows"][0]["seats"], json!([["S1", 100, 50]]));
}

#[tokio::test]
async fn a_50000_seat_stadium_is_generated_stored_exported_and_sold_by_id() {
    let s = Server::start().await;
    let org = s.organizer("st").await;
    let summary = s.post("/api/venues", Some(&org.token), stadium()).await.ok(201);
    assert_eq!(summary["seats"], 50_000);
    assert_eq!(summary["sections"], 40);
    let id = summary["id"].as_u64().unwrap();

    // The export is a few megabytes, within the 8 MiB a venue body may have,
    // so it imports again as is.
    let exported = s.get(&format!("/api/venues/{id}"), Some(&org.token)).await;
    assert_eq!(exported.status, 200);
    let len = exported.body.len();
    assert!((1_000_000..8 * 1024 * 1024).contains(&len), "export is {len} bytes");
    let venue = exported.json();
    let seats: usize = venue["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|sec| sec["rows"].as_array().unwrap())
        .map(|r| r["seats"].as_array().unwrap().len())
        .sum();
    assert_eq!(seats, 50_000);
    let copy = s.post_raw("/api/venues", Some(&org.token), exported.body.clone()).await.ok(201);
    assert_eq!(copy["seats"], 50_000);

    let body = seated_sale_body(json!({"venue_id": id}));
    assert!(body.to_string().len() < 1024, "a sale names a stored venue in a few bytes");
    let sale = s.post("/api/sales", Some(&org.token), body).await.ok(201);
    let sale_id = sale["id"].as_u64().unwrap();
    assert_eq!(sale["owner_id"], org.id);
    let got = s.sale(sale_id).await;
    assert_eq!(got["seated"]["total"], 50_000);
    assert_eq!(got["seated"]["available"], 50_000);
    assert_eq!(got["seated"]["venue"], "Stadium");
    assert_eq!(got["seated"]["sections"].as_array().unwrap().len(), 40);

    let layout = s.get(&format!("/api/sales/{sale_id}/venue"), None).await;
    let layout_len = layout.body.len();
    let layout = layout.ok(200);
    assert_eq!(layout["seats"], 50_000);
    assert_eq!(layout["sections"].as_array().unwrap().len(), 40);
    assert_eq!(layout["sections"][39]["first_seat"], 39 * 1250);
    assert_eq!(layout["sections"][39]["rows"][24]["first_seat"], 50_000 - 50);
    let drawn: usize = layout["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|sec| sec["rows"].as_array().unwrap())
        .map(|r| r["seats"].as_array().unwrap().len())
        .sum();
    assert_eq!(drawn, 50_000);
    assert!(layout_len < 2 * 1024 * 1024, "the layout of 50,000 seats is {layout_len} bytes");
}

#[tokio::test]
async fn other_organizers_see_nothing_and_cannot_sell_from_it_but_admins_can() {
    let s = Server::start().await;
    let (owner, other) = (s.organizer("own").await, s.organizer("oth").await);
    let id = s.post("/api/venues", Some(&owner.token), hand_made()).await.ok(201)["id"].as_u64().unwrap();
    let path = format!("/api/venues/{id}");
    let missing = format!("/api/venues/{}", id + 1000);

    // Someone else's venue looks exactly like one that does not exist.
    let theirs = s.get(&path, Some(&other.token)).await.problem(404, "/problems/not-found");
    let nowhere = s.get(&missing, Some(&other.token)).await.problem(404, "/problems/not-found");
    assert_eq!(theirs, nowhere);
    s.delete(&path, Some(&other.token)).await.problem(404, "/problems/not-found");
    s.get("/api/venues/abc", Some(&other.token)).await.problem(404, "/problems/not-found");
    assert_eq!(s.get("/api/venues", Some(&other.token)).await.ok(200), json!({"venues": []}));

    let sales_before = s.get("/api/sales", None).await.ok(200);
    let p = s
        .post("/api/sales", Some(&other.token), seated_sale_body(json!({"venue_id": id})))
        .await
        .problem(422, "/problems/invalid-field");
    let q = s
        .post("/api/sales", Some(&other.token), seated_sale_body(json!({"venue_id": id + 1000})))
        .await
        .problem(422, "/problems/invalid-field");
    assert_eq!(
        p["detail"].as_str().unwrap().replace(&id.to_string(), "N"),
        q["detail"].as_str().unwrap().replace(&(id + 1000).to_string(), "N")
    );
    assert_eq!(s.get("/api/sales", None).await.ok(200), sales_before, "no sale was made");

    // Still there for its owner.
    assert_eq!(s.get(&path, Some(&owner.token)).await.ok(200), hand_made());

    // An admin sees everybody's, may export it and sell from it.
    let mine = s.post("/api/venues", Some(ADMIN), hand_made()).await.ok(201);
    assert_eq!(mine["owner"], 0, "the operator token owns as id 0");
    let all = s.get("/api/venues", Some(ADMIN)).await.ok(200);
    let owners: Vec<u64> = all["venues"].as_array().unwrap().iter().map(|v| v["owner"].as_u64().unwrap()).collect();
    assert_eq!(owners, vec![owner.id, 0]);
    assert_eq!(s.get(&path, Some(ADMIN)).await.ok(200), hand_made());
    let sale = s.post("/api/sales", Some(ADMIN), seated_sale_body(json!({"venue_id": id}))).await.ok(201);
    assert_eq!(sale["seated"]["total"], 6);
    // The owner sees only their own.
    let list = s.get("/api/venues", Some(&owner.token)).await.ok(200);
    assert_eq!(list["venues"].as_array().unwrap().len(), 1);
    assert_eq!(s.delete(&path, Some(ADMIN)).await.status, 204);
    s.get(&path, Some(&owner.token)).await.problem(404, "/problems/not-found");
}

#[tokio::test]
async fn participants_are_refused_and_strangers_must_sign_in() {
    let s = Server::start().await;
    let org = s.organizer("po").await;
    let id = s.post("/api/venues", Some(&org.token), hand_made()).await.ok(201)["id"].as_u64().unwrap();
    let path = format!("/api/venues/{id}");
    let u = s.users(1, "pp").await.remove(0);
    s.post("/api/venues", Some(&u.token), hand_made()).await.problem(403, "/problems/forbidden");
    s.get("/api/venues", Some(&u.token)).await.problem(403, "/problems/forbidden");
    s.get(&path, Some(&u.token)).await.problem(403, "/problems/forbidden");
    s.delete(&path, Some(&u.token)).await.problem(403, "/problems/forbidden");
    s.post("/api/sales", Some(&u.token), seated_sale_body(json!({"venue_id": id})))
        .await
        .problem(403, "/problems/forbidden");
    s.post("/api/venues", None, hand_made()).await.problem(401, "/problems/unauthenticated");
    s.get(&path, None).await.problem(401, "/problems/unauthenticated");
    assert_eq!(s.get(&path, Some(&org.token)).await.ok(200), hand_made());
    assert_eq!(s.get("/api/venues", Some(ADMIN)).await.ok(200)["venues"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_venues_are_refused_with_the_reason_and_change_nothing() {
    let s = Server::start().await;
    let org = s.organizer("iv").await;
    let good = s.post("/api/venues", Some(&org.token), hand_made()).await.ok(201);
    let before = s.get("/api/venues", Some(&org.token)).await.ok(200);

    let mut bad = hand_made();
    bad["sections"][1]["colour"] = json!("blue");
    let p = s.post("/api/venues", Some(&org.token), bad).await.problem(422, "/problems/invalid-field");
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");
    let p = s
        .post("/api/venues", Some(&org.token), json!({"name": "Empty", "sections": []}))
        .await
        .problem(422, "/problems/invalid-field");
    assert!(p["detail"].as_str().unwrap().contains("section"), "{p}");
    let mut twice = hand_made();
    twice["sections"][1]["name"] = json!("Front");
    s.post("/api/venues", Some(&org.token), twice).await.problem(422, "/problems/invalid-field");
    let mut both = stadium();
    both["name"] = json!("Stadium");
    both["sections"] = hand_made()["sections"].clone();
    s.post("/api/venues", Some(&org.token), both).await.problem(422, "/problems/invalid-field");
    s.post("/api/venues", Some(&org.token), json!({})).await.problem(422, "/problems/invalid-field");
    let mut huge = stadium();
    huge["generate"]["sections"][0]["rows"] = json!(501);
    let p = s.post("/api/venues", Some(&org.token), huge).await.problem(422, "/problems/invalid-field");
    assert!(p["detail"].as_str().unwrap().starts_with("generate:"), "{p}");
    // Not a venue at all: malformed.
    s.post("/api/venues", Some(&org.token), json!({"name": "x", "sections": [{"name": "A"}]}))
        .await
        .problem(400, "/problems/malformed-json");
    s.post_raw("/api/venues", Some(&org.token), "{\"name\":").await.problem(400, "/problems/malformed-json");
    // Over 8 MiB is refused before it is read.
    let padding = " ".repeat(8 * 1024 * 1024 + 1);
    s.post_raw("/api/venues", Some(&org.token), format!("{{\"name\": \"x\"{padding}}}"))
        .await
        .problem(413, "/problems/body-too-large");
    assert_eq!(s.get("/api/venues", Some(&org.token)).await.ok(200), before);

    // A sale names exactly one venue.
    let id = good["id"].as_u64().unwrap();
    let sales_before = s.get("/api/sales", None).await.ok(200);
    let p = s
        .post("/api/sales", Some(&org.token), seated_sale_body(json!({"venue_id": id, "venue": hand_made()})))
        .await
        .problem(422, "/problems/invalid-field");
    assert!(p["detail"].as_str().unwrap().contains("exactly one"), "{p}");
    let mut with_generate = stadium();
    with_generate["venue_id"] = json!(id);
    s.post("/api/sales", Some(&org.token), seated_sale_body(with_generate))
        .await
        .problem(422, "/problems/invalid-field");
    assert_eq!(s.get("/api/sales", None).await.ok(200), sales_before);
}

#[tokio::test]
async fn an_organizer_keeps_at_most_200_venues() {
    let s = Server::start().await;
    let (org, other) = (s.organizer("lim").await, s.organizer("lim2").await);
    let tiny = json!({"generate": {"name": "Booth", "sections": [
        {"name": "A", "tier": "R", "price": 1, "colour": "#000000", "rows": 1, "seats_per_row": 2,
         "x": 0, "y": 0, "curve_degrees": 0.0, "spacing": 10}]}});
    let mut last = 0;
    for _ in 0..200 {
        last = s.post("/api/venues", Some(&org.token), tiny.clone()).await.ok(201)["id"].as_u64().unwrap();
    }
    let p = s.post("/api/venues", Some(&org.token), tiny.clone()).await.problem(409, "/problems/too-many-venues");
    assert!(p["detail"].as_str().unwrap().contains("200"), "{p}");
    assert_eq!(s.get("/api/venues", Some(&org.token)).await.ok(200)["venues"].as_array().unwrap().len(), 200);
    s.post("/api/venues", Some(&other.token), tiny.clone()).await.ok(201);
    assert_eq!(s.delete(&format!("/api/venues/{last}"), Some(&org.token)).await.status, 204);
    s.post("/api/venues", Some(&org.token), tiny).await.ok(201);
}

#[tokio::test]
async fn venues_are_in_the_openapi_document() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    assert!(doc["paths"]["/api/venues"]["post"].is_object(), "POST /api/venues missing");
    assert!(doc["paths"]["/api/venues"]["get"].is_object(), "GET /api/venues missing");
    assert!(doc["paths"]["/api/venues/{id}"]["get"].is_object(), "GET /api/venues/{{id}} missing");
    assert!(doc["paths"]["/api/venues/{id}"]["delete"].is_object(), "DELETE /api/venues/{{id}} missing");
    for schema in ["CreateVenueRequest", "VenueSummaryOut", "VenuesOut"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} missing");
    }
    let seated = &doc["components"]["schemas"]["SeatedRequest"]["properties"];
    assert!(seated["venue_id"].is_object(), "SeatedRequest.venue_id missing: {seated}");
}
