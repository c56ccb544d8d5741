//! Authentication (who are you) and authorization (may you).

use reqwest::Method;
use serde_json::json;

use crate::common::{ADMIN, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_credentials_are_unauthenticated() {
    let s = Server::start().await;
    let sale = s.open_stock_sale(json!({})).await;
    let before = s.state(sale).await;

    s.get("/api/me", None).await.problem(401, "/problems/unauthenticated");
    s.get("/api/me", Some("stp_not-a-real-token")).await.problem(401, "/problems/unauthenticated");
    s.get("/api/me/holds", Some("test-admin-token-but-longer")).await.problem(401, "/problems/unauthenticated");
    let basic = s.request(Method::GET, "/api/me").header("authorization", "Basic dXNlcjpwYXNz");
    s.send(basic).await.problem(401, "/problems/unauthenticated");
    let stale_cookie = s.request(Method::GET, "/api/me").header("cookie", "stampede_session=nope");
    s.send(stale_cookie).await.problem(401, "/problems/unauthenticated");

    // Commands without valid credentials change nothing.
    let path = format!("/api/sales/{sale}/holds");
    s.post(&path, None, json!({"quantity": 1})).await.problem(401, "/problems/unauthenticated");
    s.post(&path, Some("stp_wrong"), json!({"quantity": 1})).await.problem(401, "/problems/unauthenticated");
    s.post_empty(&format!("/api/sales/{sale}/close"), None).await.problem(401, "/problems/unauthenticated");
    s.post("/api/sales", None, json!({"kind": "drop", "title": "x", "winners": 1}))
        .await
        .problem(401, "/problems/unauthenticated");
    assert_eq!(s.state(sale).await, before);
    assert_eq!(s.get("/api/sales", None).await.ok(200)["sales"].as_array().map(Vec::len), Some(1));

    // The operator token is an admin.
    let me = s.get("/api/me", Some(ADMIN)).await.ok(200);
    assert_eq!(me["role"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_who_creates_opens_and_administers() {
    let s = Server::start().await;
    let users = s.users(3, "role").await;
    let (a, b, p) = (&users[0], &users[1], &users[2]);
    let drop_body = json!({"kind": "drop", "title": "Sneakers", "winners": 1});

    // A participant may neither create sales nor use admin tools.
    s.post("/api/sales", Some(&p.token), drop_body.clone()).await.problem(403, "/problems/forbidden");
    s.post("/api/admin/users/bulk", Some(&p.token), json!({"count": 5, "name_prefix": "evil"}))
        .await
        .problem(403, "/problems/forbidden");
    s.put(&format!("/api/admin/users/{}/role", p.id), Some(&p.token), json!({"role": "admin"}))
        .await
        .problem(403, "/problems/forbidden");
    let created = json!({"email": "x@example.com", "password": "long enough, truly", "name": "X", "role": "admin"});
    s.post("/api/admin/users", Some(&p.token), created).await.problem(403, "/problems/forbidden");
    assert_eq!(s.get("/api/sales", None).await.ok(200)["sales"], json!([]));
    assert_eq!(s.get("/api/me", Some(&p.token)).await.ok(200)["role"], "participant");

    // Bad admin input.
    s.put(&format!("/api/admin/users/{}/role", a.id), Some(ADMIN), json!({"role": "king"}))
        .await
        .problem(422, "/problems/invalid-field");
    s.put("/api/admin/users/999/role", Some(ADMIN), json!({"role": "organizer"}))
        .await
        .problem(404, "/problems/not-found");
    s.put("/api/admin/users/abc/role", Some(ADMIN), json!({"role": "organizer"}))
        .await
        .problem(404, "/problems/not-found");
    s.put("/api/admin/users/%FF/role", Some(ADMIN), json!({"role": "organizer"}))
        .await
        .problem(404, "/problems/not-found");
    s.post("/api/admin/users/bulk", Some(ADMIN), json!({"count": 0, "name_prefix": "x"}))
        .await
        .problem(422, "/problems/invalid-field");
    s.post("/api/admin/users/bulk", Some(ADMIN), json!({"count": 10001, "name_prefix": "x"}))
        .await
        .problem(422, "/problems/invalid-field");
    s.post("/api/admin/users/bulk", Some(ADMIN), json!({"count": 1, "name_prefix": "has space"}))
        .await
        .problem(422, "/problems/invalid-field");

    // The admin promotes A and B; now they may create sales.
    for u in [a, b] {
        let out =
            s.put(&format!("/api/admin/users/{}/role", u.id), Some(ADMIN), json!({"role": "organizer"})).await.ok(200);
        assert_eq!(out["id"], u.id);
        assert_eq!(out["role"], "organizer");
        assert_eq!(s.get("/api/me", Some(&u.token)).await.ok(200)["role"], "organizer");
    }
    let sale = s.stock_sale_by(&a.token, json!({})).await;
    assert_eq!(sale["owner_id"], a.id);
    assert_eq!(sale["status"], "scheduled");
    let id = sale["id"].as_u64().expect("id");

    // B is an organizer, but not of A's sale.
    let before = s.state(id).await;
    s.post_empty(&format!("/api/sales/{id}/open"), Some(&b.token)).await.problem(403, "/problems/forbidden");
    s.post_empty(&format!("/api/sales/{id}/close"), Some(&b.token)).await.problem(403, "/problems/forbidden");
    s.get(&format!("/api/sales/{id}/holds"), Some(&b.token)).await.problem(403, "/problems/forbidden");
    s.get(&format!("/api/sales/{id}/results"), Some(&b.token)).await.problem(403, "/problems/forbidden");
    s.post_empty(&format!("/api/sales/{id}/open"), Some(&p.token)).await.problem(403, "/problems/forbidden");
    assert_eq!(s.state(id).await, before);

    // A may open it; so may an admin open another's sale.
    let opened = s.post_empty(&format!("/api/sales/{id}/open"), Some(&a.token)).await.ok(200);
    assert_eq!(opened["status"], "open");
    assert!(opened["opened_at"].is_string());
    let other = s.stock_sale_by(&b.token, json!({})).await["id"].as_u64().expect("id");
    assert_eq!(s.open(other).await["owner_id"], b.id);

    // Demoted back, A can no longer create sales.
    s.put(&format!("/api/admin/users/{}/role", a.id), Some(ADMIN), json!({"role": "participant"})).await.ok(200);
    s.post("/api/sales", Some(&a.token), drop_body).await.problem(403, "/problems/forbidden");
}
