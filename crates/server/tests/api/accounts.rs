//! Sign-up, log-in, tokens, sessions and CSRF: the only tests that pay for
//! argon2, so they do as few password checks as possible.

use reqwest::Method;
use serde_json::json;

use crate::common::{ADMIN, Resp, Server};

/// `stampede_session=VALUE` from a Set-Cookie header.
fn session_cookie(r: &Resp) -> String {
    let set = r.header("set-cookie");
    assert!(set.starts_with("stampede_session="), "set-cookie: {set:?}");
    assert!(set.contains("HttpOnly"), "set-cookie: {set:?}");
    let pair = set.split(';').next().unwrap_or_default().to_owned();
    assert!(pair.len() > "stampede_session=".len(), "empty session cookie: {set:?}");
    pair
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_login_and_their_problems() {
    let s = Server::start().await;
    let creds = json!({"email": "Kim@Example.com", "password": "correct horse", "name": "Kim"});

    // Bad input first: none of it creates an account.
    for (body, what) in [
        (json!({"email": "not-an-email", "password": "correct horse", "name": "Kim"}), "email"),
        (json!({"email": "kim@example.com", "password": "short", "name": "Kim"}), "password"),
        (json!({"email": "kim@example.com", "password": "correct horse", "name": ""}), "name"),
    ] {
        let p = s.post("/api/auth/signup", None, body).await.problem(422, "/problems/invalid-field");
        assert!(p["detail"].as_str().unwrap_or_default().contains(what), "{p}");
    }
    s.post_raw("/api/auth/signup", None, r#"{"email": "kim@example.com""#)
        .await
        .problem(400, "/problems/malformed-json");
    s.post("/api/auth/signup", None, json!({"email": "kim@example.com"}))
        .await
        .problem(400, "/problems/malformed-json");
    s.post("/api/auth/login", None, json!({"email": "kim@example.com", "password": "correct horse"}))
        .await
        .problem(404, "/problems/unknown-account");

    // Sign-up: 201, a session cookie and a CSRF token.
    let r = s.post("/api/auth/signup", None, creds.clone()).await;
    let out = r.ok(201);
    session_cookie(&r);
    assert_eq!(out["user"]["email"], "kim@example.com", "emails are normalised");
    assert_eq!(out["user"]["name"], "Kim");
    assert_eq!(out["user"]["role"], "participant");
    let id = out["user"]["id"].as_u64().expect("id");
    assert!(out["csrf_token"].as_str().is_some_and(|t| t.len() >= 16), "{out}");

    // The same address again, in another case: taken.
    let again = json!({"email": "KIM@example.com", "password": "another horse", "name": "Kim 2"});
    s.post("/api/auth/signup", None, again).await.problem(409, "/problems/email-taken");

    // Log-in: unknown address, wrong password, right password.
    s.post("/api/auth/login", None, json!({"email": "lee@example.com", "password": "correct horse"}))
        .await
        .problem(404, "/problems/unknown-account");
    s.post("/api/auth/login", None, json!({"email": "kim@example.com", "password": "wrong horse!"}))
        .await
        .problem(401, "/problems/wrong-password");
    let r = s.post("/api/auth/login", None, json!({"email": " kim@EXAMPLE.com ", "password": "correct horse"})).await;
    let out = r.ok(200);
    assert_eq!(out["user"]["id"], id);
    assert!(out["csrf_token"].is_string());
    let cookie = session_cookie(&r);
    let me = s.send(s.request(Method::GET, "/api/me").header("cookie", &cookie)).await.ok(200);
    assert_eq!(me["id"], id);
    assert_eq!(me["email"], "kim@example.com");

    // A bulk account has no password: it cannot log in.
    let bulk = s.users(1, "bulk").await.remove(0);
    let email = format!("bulk-{}@bulk.invalid", bulk.id);
    s.post("/api/auth/login", None, json!({"email": email, "password": "whatever123"}))
        .await
        .problem(401, "/problems/wrong-password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_gives_a_working_bearer_token() {
    let s = Server::start().await;
    let created = s
        .post(
            "/api/admin/users",
            Some(ADMIN),
            json!({"email": "org@example.com", "password": "organizer pass", "name": "Org", "role": "organizer"}),
        )
        .await
        .ok(201);
    assert_eq!(created["role"], "organizer");

    let creds = json!({"email": "org@example.com", "password": "not the pass", "label": "cli"});
    s.post("/api/auth/tokens", None, creds).await.problem(401, "/problems/wrong-password");
    let creds = json!({"email": "nobody@example.com", "password": "organizer pass"});
    s.post("/api/auth/tokens", None, creds).await.problem(404, "/problems/unknown-account");

    let creds = json!({"email": "org@example.com", "password": "organizer pass", "label": "cli"});
    let out = s.post("/api/auth/tokens", None, creds).await.ok(201);
    let token = out["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("stp_"), "{token}");
    assert_eq!(out["user"]["id"], created["id"]);

    let me = s.get("/api/me", Some(&token)).await.ok(200);
    assert_eq!(me["email"], "org@example.com");
    assert_eq!(me["role"], "organizer");
    // The token acts: an organizer may create a sale with it.
    let sale = s.stock_sale_by(&token, json!({})).await;
    assert_eq!(sale["owner_id"], created["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_needs_csrf_for_changes_and_logout_ends_it() {
    let s = Server::start().await;
    let sale = s.open_stock_sale(json!({})).await;
    let r = s
        .post(
            "/api/auth/signup",
            None,
            json!({"email": "cho@example.com", "password": "cookie monster", "name": "Cho"}),
        )
        .await;
    let out = r.ok(201);
    let cookie = session_cookie(&r);
    let csrf = out["csrf_token"].as_str().expect("csrf").to_owned();
    let reserve = |csrf: Option<&str>| {
        let rb = s
            .request(Method::POST, &format!("/api/sales/{sale}/holds"))
            .header("cookie", &cookie)
            .json(&json!({"quantity": 2}));
        match csrf {
            Some(c) => rb.header("x-csrf-token", c),
            None => rb,
        }
    };
    let my_holds = || s.request(Method::GET, "/api/me/holds").header("cookie", &cookie);

    // Safe requests need no CSRF token.
    let me = s.send(s.request(Method::GET, "/api/me").header("cookie", &cookie)).await.ok(200);
    assert_eq!(me["email"], "cho@example.com");
    assert_eq!(s.send(my_holds()).await.ok(200)["holds"], json!([]));

    // Changes without (or with a wrong) CSRF token are refused and change nothing.
    let before = s.state(sale).await;
    s.send(reserve(None)).await.problem(403, "/problems/csrf");
    s.send(reserve(Some("not-the-token"))).await.problem(403, "/problems/csrf");
    s.send(reserve(Some(""))).await.problem(403, "/problems/csrf");
    assert_eq!(s.state(sale).await, before);
    assert_eq!(s.send(my_holds()).await.ok(200)["holds"], json!([]));

    // With the token it works.
    let hold = s.send(reserve(Some(&csrf))).await.ok(201);
    assert_eq!(hold["quantity"], 2);
    assert_eq!(s.numbers(sale).await, (8, 2, 0));
    let holds = s.send(my_holds()).await.ok(200);
    assert_eq!(holds["holds"][0]["id"], hold["id"]);

    // Logout is a change too: it needs the token.
    let logout = || s.request(Method::POST, "/api/auth/logout").header("cookie", &cookie);
    s.send(logout()).await.problem(403, "/problems/csrf");
    s.send(s.request(Method::GET, "/api/me").header("cookie", &cookie)).await.ok(200);
    let r = s.send(logout().header("x-csrf-token", &csrf)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.header("set-cookie").contains("Max-Age=0"), "{:?}", r.header("set-cookie"));

    // The session is over.
    s.send(s.request(Method::GET, "/api/me").header("cookie", &cookie)).await.problem(401, "/problems/unauthenticated");
    let before = s.state(sale).await;
    s.send(reserve(Some(&csrf))).await.problem(401, "/problems/unauthenticated");
    assert_eq!(s.state(sale).await, before);
}

#[tokio::test]
async fn a_person_changes_their_display_name_and_a_bad_one_changes_nothing() {
    let s = Server::start().await;
    let u = s.users(1, "pr").await.remove(0);
    let out = s.put("/api/me", Some(&u.token), json!({"name": "  Kim Minji "})).await.ok(200);
    assert_eq!(out["name"], "Kim Minji");
    assert_eq!(s.get("/api/me", Some(&u.token)).await.ok(200)["name"], "Kim Minji");
    s.put("/api/me", Some(&u.token), json!({"name": ""})).await.problem(422, "/problems/invalid-field");
    s.put("/api/me", Some(&u.token), json!({"name": "x".repeat(65)})).await.problem(422, "/problems/invalid-field");
    assert_eq!(s.get("/api/me", Some(&u.token)).await.ok(200)["name"], "Kim Minji");
    s.put("/api/me", None, json!({"name": "Nobody"})).await.problem(401, "/problems/unauthenticated");
}
