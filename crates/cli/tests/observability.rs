//! Logs and metrics of the real binary: with `--log-format json` every line
//! on standard error is one JSON object; an operator who has a request's
//! `x-request-id` finds, with `stampede_engine::durable=debug`, the line that
//! names the sale and seq the request's command got (the same seq as its
//! receipt); and `stampede bench` reports the server's CPU per request from
//! its `/metrics`, or `na` from a server running with `--metrics off`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use stampede_bench::{BenchArgs, Scenario, ServerCpu};

const ADMIN_TOKEN: &str = "observability-test-admin";

struct Server {
    child: Child,
    url: String,
    stderr: JoinHandle<Vec<String>>,
}

/// Starts `stampede --log-format json serve` with `extra` arguments; its
/// standard error is collected line by line until it exits.
fn start(data: &std::path::Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["--log-format", "json", "serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "info,stampede_engine::durable=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let stderr = std::thread::spawn(move || stderr.lines().map_while(Result::ok).collect());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(url) = line.strip_prefix("stampede listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, url, stderr }
}

impl Server {
    /// Stops the server and returns every line it wrote to standard error.
    fn stop(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.stderr.join().unwrap()
    }
}

fn bench(url: &str, scenario: Scenario) -> BenchArgs {
    BenchArgs {
        target: url.to_owned(),
        scenario,
        duration: 1,
        connections: 4,
        users: 8,
        admin_token: Some(ADMIN_TOKEN.into()),
        quiet: true,
        ..BenchArgs::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_lead_from_a_request_id_to_its_seq_and_bench_reads_the_server_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &[]);

    let s = stampede_bench::run(&bench(&server.url, Scenario::Stock)).await.unwrap();
    let ServerCpu::MicrosPerRequest(us) = s.server_cpu else { panic!("no server CPU: {}", s.line()) };
    assert!(us > 0.0 && us.is_finite(), "{}", s.line());
    assert!(s.line().contains(" server_cpu_us_per_req="), "{}", s.line());
    let sale = s.sale_id.expect("the bench's sale");

    // A hold with the client's own request id.
    let http = reqwest::Client::new();
    let users: Value = http
        .post(format!("{}/api/admin/users/bulk", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"count": 1, "name_prefix": "traced"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = users["users"][0]["token"].as_str().unwrap();
    let request_id = "support-ticket-4711";
    let res = http
        .post(format!("{}/api/sales/{sale}/holds", server.url))
        .bearer_auth(token)
        .header("idempotency-key", "observability-1")
        .header("x-request-id", request_id)
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-request-id"], request_id);
    let receipt = res.headers()["stampede-receipt"].to_str().unwrap();
    let receipt: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(receipt).unwrap()).unwrap();

    let lines = server.stop();
    let logged: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(logged.iter().any(|l| l["fields"]["message"] == "log replayed"), "{lines:?}");
    // What an operator does: look the request id up, read sale and seq.
    let durable: Vec<&Value> = logged
        .iter()
        .filter(|l| l["target"] == "stampede_engine::durable" && l["fields"]["request_id"] == request_id)
        .collect();
    assert_eq!(durable.len(), 1, "{lines:?}");
    assert_eq!(durable[0]["level"], "DEBUG");
    assert_eq!(durable[0]["fields"]["sale"], sale);
    assert_eq!(durable[0]["fields"]["seq"], receipt["seq"], "the log line and the receipt disagree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_metrics_off_bench_says_the_server_cpu_is_not_known() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &["--metrics", "off"]);
    let s = stampede_bench::run(&bench(&server.url, Scenario::Ping)).await.unwrap();
    assert_eq!(s.server_cpu, ServerCpu::Unavailable);
    assert!(s.line().ends_with(" server_cpu_us_per_req=na"), "{}", s.line());
    let lines = server.stop();
    assert!(lines.iter().all(|l| serde_json::from_str::<Value>(l).is_ok()), "{lines:?}");
}
