//! What the server tells Prometheus: the process-wide recorder behind the
//! `metrics` facade, the per-route request latency layer, and the text of
//! `GET /metrics`.
//!
//! One recorder serves the whole process ([`install`]); the engine records
//! into the same one through the facade (batch sizes, commit latency, mailbox
//! depth, replay). Every label is bounded: a route is its template
//! (`/api/sales/{id}/holds`, never the path asked for), the outcome its
//! status class. Whatever a scrape can read for itself (CPU seconds and
//! resident memory from `/proc`, the open WebSockets from this server's own
//! gauge) is read then, so it costs requests nothing.
//!
//! The request layer is the only metrics work on the path of a request: two
//! clock reads and one histogram sample into a handle the route's layer made
//! on its first request (no lock, no allocation, no map lookup after that).
//! With `--metrics off` no recorder is installed, the layer is not in the
//! router, and the facade's calls elsewhere do nothing.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use metrics::Histogram;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower::{Layer, Service};

/// Request latency by route, method and outcome (a Prometheus histogram).
pub const REQUEST_SECONDS: &str = "stampede_http_request_duration_seconds";
/// Requests the in-flight cap answered 503 at once, before any route.
pub const REQUESTS_SHED: &str = "stampede_http_requests_shed_total";

/// Bucket bounds for every `_seconds` histogram: fine below 10 ms, where a
/// healthy hold answers (BENCHMARKS.md), coarse up to the multi-second stalls
/// a degraded log shows, so `histogram_quantile` resolves a p99 of a few ms.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Bucket bounds for counts: entries per commit (up to the writer's 8192)
/// and messages waiting in a mailbox.
const COUNT_BUCKETS: &[f64] =
    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];

/// How often recorded histogram samples are folded into their buckets
/// between scrapes, so memory does not grow with the time between two.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot configure the Prometheus recorder: {0}")]
    Build(#[from] metrics_exporter_prometheus::BuildError),
    #[error("another metrics recorder is already installed in this process")]
    Taken,
    #[error("cannot start the metrics upkeep thread: {0}")]
    Upkeep(std::io::Error),
}

/// Installs the process's Prometheus recorder on first call and returns its
/// handle (the same one on every later call: tests start many servers in one
/// process, and the facade has a single global recorder).
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let _once = INSTALLING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_entries".into()), COUNT_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_depth".into()), COUNT_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| MetricsError::Taken)?;
    describe();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("stampede-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
        .map_err(MetricsError::Upkeep)?;
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

fn describe() {
    use metrics::Unit;
    metrics::describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Time to answer a request, by route template, method and status class"
    );
    metrics::describe_counter!(REQUESTS_SHED, "Requests refused at once by the cap on requests in flight");
    // Served from the start, at 0: a rate needs the series before the first shed.
    metrics::counter!(REQUESTS_SHED).increment(0);
    stampede_engine::metrics::describe();
}

/// The text of `GET /metrics`: everything recorded, then what this server
/// reads at the moment of the scrape.
pub fn render(handle: &PrometheusHandle, websockets_open: u64, websockets_peak: u64) -> String {
    let mut text = handle.render();
    let mut gauge = |name: &str, help: &str, kind: &str, value: &dyn std::fmt::Display| {
        let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
    };
    gauge(
        "stampede_websockets_open",
        "WebSockets open now (live views, waiting rooms, seat maps)",
        "gauge",
        &websockets_open,
    );
    gauge("stampede_websockets_peak", "Most WebSockets open at once since start", "gauge", &websockets_peak);
    if let Some(cpu) = process_cpu_seconds() {
        gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", &cpu);
    }
    if let Some(kb) = crate::live::rss_kb() {
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", &(kb * 1024));
    }
    text
}

/// Clock ticks per second in `/proc/<pid>/stat`: the kernel's USER_HZ, which
/// Linux fixes at 100 for user space on every architecture it runs on.
const PROC_TICKS_PER_S: f64 = 100.0;

/// User plus system CPU time of this process so far (Linux; `None` elsewhere).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_seconds_of_stat(&stat)
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`:
/// there the state is field 3, `utime` field 14 and `stime` field 15.
fn cpu_seconds_of_stat(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / PROC_TICKS_PER_S)
}

/// The latency layer, put on every route with `Router::route_layer` (so the
/// matched route template is known) when metrics are on.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestMetricsLayer;

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> RequestMetrics<S> {
        // Called once per route and method: the series below belong to it.
        RequestMetrics { inner, series: Arc::new(OnceLock::new()) }
    }
}

/// One route and method's service with its latency series.
#[derive(Clone)]
pub struct RequestMetrics<S> {
    inner: S,
    /// Filled on the route's first request, from its matched template.
    series: Arc<OnceLock<RouteSeries>>,
}

/// The histograms of one route template and method, one per status class,
/// each registered on the first answer of its class.
struct RouteSeries {
    route: Arc<str>,
    method: Method,
    by_class: [OnceLock<Histogram>; 5],
}

impl RouteSeries {
    fn histogram(&self, class: usize) -> &Histogram {
        self.by_class[class].get_or_init(|| request_histogram(&self.route, &self.method, class))
    }
}

/// Status classes as label values, indexed by the status's first digit - 1.
const OUTCOMES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn class_of(status: u16) -> usize {
    usize::from(status / 100).clamp(1, 5) - 1
}

fn request_histogram(route: &Arc<str>, method: &Method, class: usize) -> Histogram {
    metrics::histogram!(
        REQUEST_SECONDS,
        "route" => metrics::SharedString::from(route.clone()),
        "method" => method_label(method),
        "outcome" => OUTCOMES[class],
    )
}

/// Methods the router serves; anything else is one label (bounded).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Which series a request is counted in.
enum Counted {
    /// The route's own (the common case).
    Route(Arc<OnceLock<RouteSeries>>),
    /// A request the route's series do not describe (a method answered by the
    /// route's 405 fallback, say): registered by name, which costs a lookup.
    Other(Arc<str>, Method),
}

impl<S> Service<Request> for RequestMetrics<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RequestMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
        let series = self.series.get_or_init(|| RouteSeries {
            route: Arc::from(route),
            method: req.method().clone(),
            by_class: Default::default(),
        });
        let counted = if *series.route == *route && series.method == req.method() {
            Counted::Route(self.series.clone())
        } else {
            Counted::Other(Arc::from(route), req.method().clone())
        };
        RequestMetricsFuture { inner: self.inner.call(req), started, counted: Some(counted) }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer, timed.
    pub struct RequestMetricsFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        counted: Option<Counted>,
    }
}

impl<F> Future for RequestMetricsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(res)) = this.inner.poll(cx) else { return Poll::Pending };
        let seconds = this.started.elapsed().as_secs_f64();
        let class = class_of(res.status().as_u16());
        match this.counted.take() {
            Some(Counted::Route(series)) => {
                if let Some(series) = series.get() {
                    series.histogram(class).record(seconds);
                }
            }
            Some(Counted::Other(route, method)) => request_histogram(&route, &method, class).record(seconds),
            None => {}
        }
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_are_read_after_the_command_name() {
        // A name with a space and a parenthesis; utime 250 and stime 50 ticks.
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0";
        assert_eq!(cpu_seconds_of_stat(stat), Some(3.0));
        assert_eq!(cpu_seconds_of_stat("4242 (short"), None);
        assert_eq!(cpu_seconds_of_stat("4242 (x) S 1"), None);
    }

    #[test]
    fn status_classes() {
        assert_eq!(OUTCOMES[class_of(101)], "1xx");
        assert_eq!(OUTCOMES[class_of(201)], "2xx");
        assert_eq!(OUTCOMES[class_of(409)], "4xx");
        assert_eq!(OUTCOMES[class_of(503)], "5xx");
        assert_eq!(OUTCOMES[class_of(999)], "5xx");
    }
}
