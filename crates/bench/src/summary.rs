//! The results of a run and of a verification, with their two renderings: a
//! human-readable [`Summary::report`] and the single machine-readable
//! [`Summary::line`] that the CLI prints as the last line of stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::Scenario;
use crate::stats::Totals;

/// The outcome of one load run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub scenario: Scenario,
    /// The sale created for the run (stock and drop).
    pub sale_id: Option<u64>,
    /// Connections actually used.
    pub connections: usize,
    /// Measured seconds of load (start of the first request to end of the last).
    pub elapsed_s: f64,
    /// Request attempts: `ok + rejected + errors`.
    pub requests: u64,
    pub ok: u64,
    /// Refusals that are a correct answer under load (sold out, limit reached).
    pub rejected: u64,
    /// Any other status, transport failures, timeouts, failed connects.
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Units sold or won beyond what exists (must be 0).
    pub oversold: u64,
    /// Drop: acknowledged clicks whose rank is inconsistent (must be 0).
    pub misranked: u64,
    /// Other failed correctness checks, itemized in `extra` (seats: seats
    /// acknowledged twice, viewers' maps unlike the server's, the server's map
    /// unlike the acknowledged holds, seats unlike the request). Must be 0.
    pub violations: u64,
    /// Status code (or `connect`, `transport`, `timeout`) to count.
    pub statuses: BTreeMap<String, u64>,
    /// Problem `type` to count.
    pub problems: BTreeMap<String, u64>,
    /// Scenario-specific `key=value` pairs appended to [`Summary::line`].
    pub extra: Vec<(String, String)>,
    /// Human-readable remarks (details of anomalies) for [`Summary::report`].
    pub notes: Vec<String>,
    /// Latency of each 10-second window of the run, in order.
    pub windows: Vec<Window>,
    /// The server's CPU time per request attempt during the load, from its
    /// `process_cpu_seconds_total` read before and after.
    pub server_cpu: ServerCpu,
}

/// The server's CPU time per request of a run, as `server_cpu_us_per_req=`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum ServerCpu {
    /// The scenario does not read it (queue, overload): not in the line.
    #[default]
    NotMeasured,
    /// The server serves no `/metrics` (or no CPU in them): `na`.
    Unavailable,
    /// Microseconds of server CPU (user and system) per request attempt.
    MicrosPerRequest(f64),
}

impl ServerCpu {
    /// From the server's CPU seconds before and after a load of `requests` attempts.
    pub fn of(before: Option<f64>, after: Option<f64>, requests: u64) -> ServerCpu {
        match (before, after) {
            (Some(b), Some(a)) if requests > 0 && a >= b => {
                ServerCpu::MicrosPerRequest((a - b) * 1e6 / requests as f64)
            }
            _ => ServerCpu::Unavailable,
        }
    }
}

/// The latency of the answers that arrived in one 10-second window of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub answers: u64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

fn ms(micros: u64) -> f64 {
    // Three decimals of a millisecond is exactly the microsecond resolution.
    micros as f64 / 1000.0
}

impl Summary {
    /// Fills the counters and latency figures from merged statistics.
    pub(crate) fn from_totals(scenario: Scenario, totals: Totals, elapsed_s: f64) -> Summary {
        let h = &totals.hist;
        let q = |quantile: f64| {
            if h.is_empty() { 0.0 } else { ms(h.value_at_quantile(quantile)) }
        };
        Summary {
            scenario,
            elapsed_s,
            requests: totals.requests,
            ok: totals.ok,
            rejected: totals.rejected,
            errors: totals.errors,
            rps: if elapsed_s > 0.0 { totals.requests as f64 / elapsed_s } else { 0.0 },
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: if h.is_empty() { 0.0 } else { ms(h.max()) },
            windows: totals
                .windows
                .iter()
                .map(|w| Window {
                    answers: w.len(),
                    p99_ms: if w.is_empty() { 0.0 } else { ms(w.value_at_quantile(0.99)) },
                    p999_ms: if w.is_empty() { 0.0 } else { ms(w.value_at_quantile(0.999)) },
                    max_ms: if w.is_empty() { 0.0 } else { ms(w.max()) },
                })
                .collect(),
            statuses: totals.statuses,
            problems: totals.problems,
            ..Summary::default()
        }
    }

    /// The machine-readable result line:
    /// `bench scenario=stock requests=.. ok=.. rejected=.. errors=.. rps=.. p50_ms=.. p99_ms=.. p999_ms=..
    /// max_ms=.. oversold=..` followed by the scenario's extras, and last
    /// `server_cpu_us_per_req=..` (a number, or `na` when the server has no
    /// `/metrics`) in the scenarios that read it.
    pub fn line(&self) -> String {
        let mut line = format!(
            "bench scenario={} requests={} ok={} rejected={} errors={} rps={:.1} p50_ms={:.3} p99_ms={:.3} \
             p999_ms={:.3} max_ms={:.3} oversold={}",
            self.scenario.name(),
            self.requests,
            self.ok,
            self.rejected,
            self.errors,
            self.rps,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            self.oversold,
        );
        for (key, value) in &self.extra {
            let _ = write!(line, " {key}={value}");
        }
        match self.server_cpu {
            ServerCpu::NotMeasured => {}
            ServerCpu::Unavailable => line.push_str(" server_cpu_us_per_req=na"),
            ServerCpu::MicrosPerRequest(us) => {
                let _ = write!(line, " server_cpu_us_per_req={us:.1}");
            }
        }
        line
    }

    /// One line per 10-second window, `window=N answers=.. p99_ms=.. p999_ms=.. max_ms=..`
    /// (N from 1), printed before [`Summary::line`]: where in a run a stall happened.
    pub fn window_lines(&self) -> Vec<String> {
        self.windows
            .iter()
            .enumerate()
            .map(|(i, w)| {
                format!(
                    "window={} answers={} p99_ms={:.3} p999_ms={:.3} max_ms={:.3}",
                    i + 1,
                    w.answers,
                    w.p99_ms,
                    w.p999_ms,
                    w.max_ms
                )
            })
            .collect()
    }

    /// The human-readable report printed before [`Summary::line`].
    pub fn report(&self) -> String {
        let mut r = String::new();
        let _ = write!(r, "scenario     {}", self.scenario.name());
        if let Some(sale) = self.sale_id {
            let _ = write!(r, " (sale {sale})");
        }
        let _ = writeln!(r, "\nload         {:.2} s over {} connections", self.elapsed_s, self.connections);
        let _ = writeln!(
            r,
            "requests     {} ({:.1}/s): ok {}, rejected {}, errors {}",
            self.requests, self.rps, self.ok, self.rejected, self.errors
        );
        let _ = writeln!(
            r,
            "latency ms   p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms
        );
        if !self.statuses.is_empty() {
            let list: Vec<String> = self.statuses.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let _ = writeln!(r, "status       {}", list.join(", "));
        }
        for (problem, n) in &self.problems {
            let _ = writeln!(r, "problem      {problem}: {n}");
        }
        if !self.extra.is_empty() {
            let list: Vec<String> = self.extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(r, "checks       {}", list.join(" "));
        }
        match self.server_cpu {
            ServerCpu::NotMeasured => {}
            ServerCpu::Unavailable => {
                let _ = writeln!(r, "server cpu   not known (the server serves no /metrics)");
            }
            ServerCpu::MicrosPerRequest(us) => {
                let _ = writeln!(r, "server cpu   {us:.1} us per request");
            }
        }
        let _ = writeln!(r, "oversold     {}{}", self.oversold, if self.oversold == 0 { "" } else { "  <-- BUG" });
        if self.scenario == Scenario::Drop {
            let _ =
                writeln!(r, "misranked    {}{}", self.misranked, if self.misranked == 0 { "" } else { "  <-- BUG" });
        }
        if matches!(self.scenario, Scenario::Seats | Scenario::Checkout) {
            let _ =
                writeln!(r, "violations   {}{}", self.violations, if self.violations == 0 { "" } else { "  <-- BUG" });
        }
        for note in &self.notes {
            let _ = writeln!(r, "note         {note}");
        }
        r
    }

    /// True when no correctness check failed (`oversold`, `misranked` and
    /// `violations` are 0). A checkout run also needs `errors` at 0: a
    /// payment that failed or went unanswered is a buyer left without a
    /// ticket or without their money, not load shed.
    pub fn is_clean(&self) -> bool {
        let checkout_errors = self.scenario == Scenario::Checkout && self.errors > 0;
        self.oversold == 0 && self.misranked == 0 && self.violations == 0 && !checkout_errors
    }
}

/// The outcome of `--verify-acked`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Acknowledgement records checked.
    pub checked: u64,
    /// Records the server does not have, or has differently.
    pub missing: u64,
    /// Units held or sold beyond the total, summed over the sales in the file.
    pub oversold: u64,
    /// Human-readable details (first anomalies, per-sale counts).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// `verify-acked checked=<n> missing=<n> oversold=<n>`
    pub fn line(&self) -> String {
        format!("verify-acked checked={} missing={} oversold={}", self.checked, self.missing, self.oversold)
    }

    /// The human-readable report printed before [`VerifyReport::line`].
    pub fn report(&self) -> String {
        let mut r = String::new();
        let _ = writeln!(
            r,
            "verified {} acknowledgements: {} missing or different, {} oversold",
            self.checked, self.missing, self.oversold
        );
        for note in &self.notes {
            let _ = writeln!(r, "note     {note}");
        }
        r
    }

    /// True when every acknowledgement was found and nothing is oversold.
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.oversold == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        let s = Summary {
            scenario: Scenario::Stock,
            requests: 1000,
            ok: 900,
            rejected: 90,
            errors: 10,
            rps: 100.04,
            p50_ms: 1.2345,
            p99_ms: 10.0,
            p999_ms: 20.5,
            max_ms: 31.25,
            oversold: 0,
            windows: vec![Window { answers: 7, p99_ms: 1.0, p999_ms: 2.0, max_ms: 3.5 }],
            extra: vec![("stock".into(), "100".into()), ("held".into(), "90".into())],
            ..Summary::default()
        };
        assert_eq!(
            s.line(),
            "bench scenario=stock requests=1000 ok=900 rejected=90 errors=10 rps=100.0 \
             p50_ms=1.234 p99_ms=10.000 p999_ms=20.500 max_ms=31.250 oversold=0 stock=100 held=90"
        );
        assert_eq!(s.window_lines(), vec!["window=1 answers=7 p99_ms=1.000 p999_ms=2.000 max_ms=3.500"]);
        assert!(s.report().contains("p99.9"));
        assert!(s.is_clean());
        let measured = Summary { server_cpu: ServerCpu::of(Some(1.5), Some(2.0), 1000), ..s.clone() };
        assert!(measured.line().ends_with(" held=90 server_cpu_us_per_req=500.0"), "{}", measured.line());
        let unknown = Summary { server_cpu: ServerCpu::of(None, Some(2.0), 1000), ..s.clone() };
        assert!(unknown.line().ends_with(" server_cpu_us_per_req=na"), "{}", unknown.line());
        assert_eq!(ServerCpu::of(Some(1.0), Some(2.0), 0), ServerCpu::Unavailable);
        let ping = Summary::default();
        assert_eq!(
            ping.line(),
            "bench scenario=ping requests=0 ok=0 rejected=0 errors=0 rps=0.0 p50_ms=0.000 p99_ms=0.000 p999_ms=0.000 \
             max_ms=0.000 oversold=0"
        );
    }

    #[test]
    fn verify_line_format() {
        let v = VerifyReport { checked: 5, missing: 1, oversold: 0, notes: vec![] };
        assert_eq!(v.line(), "verify-acked checked=5 missing=1 oversold=0");
        assert!(!v.is_clean());
    }
}
