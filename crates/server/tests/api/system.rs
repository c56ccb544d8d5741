//! Health, routing fallbacks and the OpenAPI document.

use reqwest::Method;

use crate::common::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ping_and_fallbacks() {
    let s = Server::start().await;
    for (path, body) in [("/healthz", "ok"), ("/readyz", "ready"), ("/api/ping", "pong")] {
        let r = s.get(path, None).await;
        assert_eq!((r.status, r.body.as_str()), (200, body), "{path}");
        assert!(r.header("content-type").starts_with("text/plain"), "{path}: {:?}", r.header("content-type"));
    }

    for path in ["/nope", "/api/nope", "/api/sales/1/nope", "/api/sales/1/holds/2/nope"] {
        s.get(path, None).await.problem(404, "/problems/not-found");
    }
    for (method, path) in [
        (Method::DELETE, "/api/sales"),
        (Method::GET, "/api/sales/1/clicks"),
        (Method::PUT, "/api/sales/1"),
        (Method::GET, "/api/auth/login"),
        (Method::POST, "/healthz"),
    ] {
        let r = s.send(s.request(method.clone(), path)).await;
        r.problem(405, "/problems/method-not-allowed");
        assert!(!r.header("allow").is_empty(), "405 without Allow: {method} {path}");
    }
    let r = s.send(s.request(Method::DELETE, "/api/sales")).await;
    assert_eq!(r.header("allow"), "POST,GET,HEAD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_describes_the_api() {
    let s = Server::start().await;
    let doc = s.get("/api/openapi.json", None).await.ok(200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/api/sales/{id}/holds",
        "/api/sales/{id}/holds/{hold}/confirm",
        "/api/sales/{id}/clicks",
        "/api/auth/signup",
        "/api/admin/users/bulk",
        "/api/me/orders",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI paths");
    }
    assert!(paths["/api/sales/{id}/holds"].get("post").is_some());
    assert!(paths["/api/sales/{id}/holds"].get("get").is_some());
    assert!(doc["components"]["schemas"].get("Problem").is_some());
}
