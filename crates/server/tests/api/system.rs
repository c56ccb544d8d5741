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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_and_gives_its_slot_back() {
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let config = stampede_server::ServerConfig {
        data_dir: dir.path().to_path_buf(),
        admin_token: None,
        connections_max: 1,
        engine: Default::default(),
        public_url: None,
        metrics: true,
    };
    let app = stampede_server::App::open(&config).expect("open");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let idle = Duration::from_millis(300);
    let limits = stampede_server::EdgeLimits { connections_max: 1, idle_max: idle, ..Default::default() };
    let task = tokio::spawn(stampede_server::serve_with_limits(listener, app.state, limits, async move {
        let _ = stopped.await;
    }));

    // One silent socket takes the only slot; the server must close it.
    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the idle connection was not closed: {read:?}");
    assert!(started.elapsed() >= idle, "closed before the idle limit");

    // The slot is free again: a real request is served.
    let res = reqwest::get(format!("http://{addr}/healthz")).await.expect("request");
    assert_eq!(res.status(), 200);
    let _ = stop.send(());
    task.await.expect("join").expect("serve");
}
