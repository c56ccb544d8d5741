//! Staff of a sale over HTTP: an organizer names accounts that may run the
//! gates of that one sale. Staff scan and sync this sale's tickets and fetch
//! its kit, not another sale's; a buyer cannot; removing staff removes the
//! access at the next request; only the organizer (or an admin) names them;
//! at most 50 per sale.

use serde_json::{Value, json};

use crate::common::{ADMIN, Server, User};

/// A free stock sale of `org`, open, with one paid order of 2 by `buyer`:
/// the sale and the buyer's QR texts in it.
async fn sale_with_tickets(s: &Server, org: &User, buyer: &User, title: &str) -> (u64, Vec<String>) {
    let sale = s.stock_sale_by(&org.token, json!({"price": 0, "title": title})).await;
    let id = sale["id"].as_u64().expect("id");
    s.post_empty(&format!("/api/sales/{id}/open"), Some(&org.token)).await.ok(200);
    let hold = s.hold(id, &buyer.token, 2).await;
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", hold["id"]), Some(&buyer.token)).await.ok(200);
    let mine = s.get("/api/me/tickets", Some(&buyer.token)).await.ok(200);
    let qrs = mine["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter(|t| t["sale_id"] == id)
        .map(|t| t["qr"].as_str().expect("qr").to_owned())
        .collect();
    (id, qrs)
}

async fn scan_as(s: &Server, token: &str, sale: u64, qr: &str) -> crate::common::Resp {
    s.post(&format!("/api/sales/{sale}/checkin"), Some(token), json!({"qr": qr, "gate": 9, "gate_name": "East"})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_run_the_gates_of_their_sale_only_until_removed() {
    let s = Server::start().await;
    let org = s.organizer("staffed").await;
    let users = s.users(3, "door").await;
    let (buyer, staff, stranger) = (&users[0], &users[1], &users[2]);
    let (sale, qrs) = sale_with_tickets(&s, &org, buyer, "Staffed gig").await;
    let (other, other_qrs) = sale_with_tickets(&s, &org, buyer, "Other gig").await;
    assert_eq!((qrs.len(), other_qrs.len()), (2, 2));

    // Before being named, a would-be staff member is refused like any buyer.
    scan_as(&s, &staff.token, sale, &qrs[0]).await.problem(403, "/problems/forbidden");
    let added =
        s.post(&format!("/api/sales/{sale}/staff"), Some(&org.token), json!({"user_id": staff.id})).await.ok(201);
    assert_eq!((added["user_id"].as_u64(), added["name"].as_str()), (Some(staff.id), Some(staff.name.as_str())));
    assert!(added.get("email").is_none(), "no personal data: {added}");
    // Naming again changes nothing.
    s.post(&format!("/api/sales/{sale}/staff"), Some(&org.token), json!({"user_id": staff.id})).await.ok(200);
    let list = s.get(&format!("/api/sales/{sale}/staff"), Some(&org.token)).await.ok(200);
    let ids: Vec<u64> = list["staff"].as_array().expect("staff").iter().filter_map(|m| m["user_id"].as_u64()).collect();
    assert_eq!(ids, [staff.id]);
    assert_eq!(list["max"], 50);

    // Staff scan this sale: admitted once, then refused as used.
    let first = scan_as(&s, &staff.token, sale, &qrs[0]).await.ok(200);
    assert_eq!(first["verdict"], "admitted", "{first}");
    assert_eq!(scan_as(&s, &staff.token, sale, &qrs[0]).await.ok(200)["reason"], "already-admitted");
    s.get(&format!("/api/sales/{sale}/gate-kit"), Some(&staff.token)).await.ok(200);
    let progress = s.get(&format!("/api/sales/{sale}/checkin"), Some(&staff.token)).await.ok(200);
    assert_eq!((progress["admitted"].as_u64(), progress["tickets"].as_u64()), (Some(1), Some(2)));
    let sync = json!({"gate": 9, "scans": [{"nonce": 1, "scanned_at_us": 1_800_000_000_000_000_i64, "qr": qrs[1]}]});
    let synced = s.post(&format!("/api/sales/{sale}/checkin/sync"), Some(&staff.token), sync.clone()).await.ok(200);
    assert_eq!(synced["verdicts"][0]["verdict"], "admitted", "{synced}");

    // Not another sale of the same organizer, and not the staff list itself.
    scan_as(&s, &staff.token, other, &other_qrs[0]).await.problem(403, "/problems/forbidden");
    s.get(&format!("/api/sales/{other}/gate-kit"), Some(&staff.token)).await.problem(403, "/problems/forbidden");
    s.post(&format!("/api/sales/{other}/checkin/sync"), Some(&staff.token), sync)
        .await
        .problem(403, "/problems/forbidden");
    s.get(&format!("/api/sales/{sale}/staff"), Some(&staff.token)).await.problem(403, "/problems/forbidden");
    s.post(&format!("/api/sales/{sale}/staff"), Some(&staff.token), json!({"user_id": stranger.id}))
        .await
        .problem(403, "/problems/forbidden");
    // A buyer, and someone else, cannot scan.
    scan_as(&s, &buyer.token, sale, &qrs[1]).await.problem(403, "/problems/forbidden");
    scan_as(&s, &stranger.token, sale, &qrs[1]).await.problem(403, "/problems/forbidden");
    // Another organizer cannot name staff for this sale.
    let rival = s.organizer("rival").await;
    s.post(&format!("/api/sales/{sale}/staff"), Some(&rival.token), json!({"user_id": rival.id}))
        .await
        .problem(403, "/problems/forbidden");

    // Removed: the next scan is refused, and the list is empty.
    let r = s.delete(&format!("/api/sales/{sale}/staff/{}", staff.id), Some(&org.token)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    scan_as(&s, &staff.token, sale, &qrs[1]).await.problem(403, "/problems/forbidden");
    s.get(&format!("/api/sales/{sale}/gate-kit"), Some(&staff.token)).await.problem(403, "/problems/forbidden");
    let list = s.get(&format!("/api/sales/{sale}/staff"), Some(&org.token)).await.ok(200);
    assert!(list["staff"].as_array().expect("staff").is_empty(), "{list}");
    s.delete(&format!("/api/sales/{sale}/staff/{}", staff.id), Some(&org.token))
        .await
        .problem(404, "/problems/not-found");
    // The organizer still scans, and the admission staff made stands.
    assert_eq!(scan_as(&s, &org.token, sale, &qrs[0]).await.ok(200)["reason"], "already-admitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_are_named_by_id_or_email_and_limited_to_fifty_a_sale() {
    let s = Server::start().await;
    let sale = s.open_stock_sale(json!({"price": 0})).await;
    let path = format!("/api/sales/{sale}/staff");
    let people = s.users(51, "crew").await;
    for u in &people[..50] {
        s.post(&path, Some(ADMIN), json!({"user_id": u.id})).await.ok(201);
    }
    let p: Value =
        s.post(&path, Some(ADMIN), json!({"user_id": people[50].id})).await.problem(409, "/problems/too-many-staff");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("50")), "{p}");
    let r = s.delete(&format!("{path}/{}", people[0].id), Some(ADMIN)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    s.post(&path, Some(ADMIN), json!({"user_id": people[50].id})).await.ok(201);

    // By e-mail: a signed-up account.
    let other = s.open_stock_sale(json!({"price": 0})).await;
    let other_path = format!("/api/sales/{other}/staff");
    let signed = s
        .post(
            "/api/auth/signup",
            None,
            json!({"email": "Gate.Keeper@example.com", "password": "a long pass phrase 9", "name": "Gate Keeper"}),
        )
        .await
        .ok(201);
    let by_email = s.post(&other_path, Some(ADMIN), json!({"email": "gate.keeper@example.com"})).await.ok(201);
    assert_eq!(by_email["user_id"], signed["user"]["id"], "{signed}");
    s.post(&other_path, Some(ADMIN), json!({"email": "nobody@example.com"})).await.problem(404, "/problems/not-found");
    s.post(&other_path, Some(ADMIN), json!({"user_id": 999_999})).await.problem(404, "/problems/not-found");
    s.post(&other_path, Some(ADMIN), json!({"user_id": people[0].id, "email": "x@example.com"}))
        .await
        .problem(422, "/problems/invalid-field");
    s.post(&other_path, Some(ADMIN), json!({})).await.problem(422, "/problems/invalid-field");
    s.get("/api/sales/999999/staff", Some(ADMIN)).await.problem(404, "/problems/not-found");
}
