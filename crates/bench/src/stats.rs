//! Counting: per-connection statistics (owned by one task, no sharing on the
//! hot path apart from three relaxed counters for the progress bar) and their
//! merge at the end of the run.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::StatusCode;

use crate::error::BenchError;
use crate::http::Attempt;

/// Live counters read by the progress bar.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub requests: AtomicU64,
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    /// When the load started: answers are also counted per [`WINDOW`] from it.
    pub origin: OnceLock<Instant>,
}

/// The span of one latency window: a stall that a whole run's percentiles
/// average away shows in the window it happened in.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);

/// How a request is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Ok,
    Rejected,
    Error,
}

/// The statistics of one connection task.
pub(crate) struct ConnStats {
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub ok: u64,
    pub rejected: u64,
    pub errors: u64,
    statuses: Vec<u64>,
    connect_errors: u64,
    transport_errors: u64,
    timeouts: u64,
    problems: HashMap<String, u64>,
    /// Latencies of the answers that arrived in each [`WINDOW`] since `Live::origin`.
    windows: Vec<Histogram<u64>>,
}

/// Latencies are capped at one hour (bounds the histogram's memory).
const MAX_MICROS: u64 = 3_600_000_000;

fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    // Auto-resizing: memory grows with the largest latency actually seen.
    Histogram::new(3).map_err(|e| BenchError::Internal(format!("histogram: {e}")))
}

impl ConnStats {
    pub fn new() -> Result<ConnStats, BenchError> {
        Ok(ConnStats {
            hist: new_histogram()?,
            requests: 0,
            ok: 0,
            rejected: 0,
            errors: 0,
            statuses: vec![0; 600],
            connect_errors: 0,
            transport_errors: 0,
            timeouts: 0,
            problems: HashMap::new(),
            windows: Vec::new(),
        })
    }

    fn count(&mut self, live: &Live, class: Class) {
        self.requests += 1;
        live.requests.fetch_add(1, Ordering::Relaxed);
        match class {
            Class::Ok => {
                self.ok += 1;
                live.ok.fetch_add(1, Ordering::Relaxed);
            }
            Class::Rejected => self.rejected += 1,
            Class::Error => {
                self.errors += 1;
                live.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts an answered request.
    pub fn response(&mut self, live: &Live, status: StatusCode, micros: u64, problem: Option<&str>, class: Class) {
        self.count(live, class);
        // `record` grows the auto-resizing histogram; `saturating_record` would
        // clamp to its current (small) range.
        let micros = micros.clamp(1, MAX_MICROS);
        if self.hist.record(micros).is_err() {
            self.hist.saturating_record(micros);
        }
        if let Some(origin) = live.origin.get() {
            let window = (origin.elapsed().as_nanos() / WINDOW.as_nanos()) as usize;
            while self.windows.len() <= window {
                match new_histogram() {
                    Ok(h) => self.windows.push(h),
                    Err(_) => return,
                }
            }
            if self.windows[window].record(micros).is_err() {
                self.windows[window].saturating_record(micros);
            }
        }
        if let Some(slot) = self.statuses.get_mut(usize::from(status.as_u16())) {
            *slot += 1;
        }
        if let Some(problem) = problem {
            match self.problems.get_mut(problem) {
                Some(n) => *n += 1,
                None => {
                    self.problems.insert(problem.to_owned(), 1);
                }
            }
        }
    }

    /// Counts a request that got no answer (always an error).
    pub fn failure(&mut self, live: &Live, attempt: &Attempt) {
        self.count(live, Class::Error);
        match attempt {
            Attempt::Connect(_) => self.connect_errors += 1,
            Attempt::Transport(_) => self.transport_errors += 1,
            Attempt::Timeout => self.timeouts += 1,
            Attempt::Response { .. } => {}
        }
    }
}

/// Everything merged over the connections.
pub(crate) struct Totals {
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub ok: u64,
    pub rejected: u64,
    pub errors: u64,
    /// Status code (or `connect`/`transport`/`timeout`) to count.
    pub statuses: BTreeMap<String, u64>,
    /// Problem `type` to count.
    pub problems: BTreeMap<String, u64>,
    /// Latencies per [`WINDOW`] of the run, in order.
    pub windows: Vec<Histogram<u64>>,
}

impl Totals {
    fn add_windows(&mut self, windows: &[Histogram<u64>]) -> Result<(), BenchError> {
        for (i, h) in windows.iter().enumerate() {
            while self.windows.len() <= i {
                self.windows.push(new_histogram()?);
            }
            self.windows[i].add(h).map_err(|e| BenchError::Internal(format!("histogram merge: {e:?}")))?;
        }
        Ok(())
    }

    pub fn new() -> Result<Totals, BenchError> {
        Ok(Totals {
            hist: new_histogram()?,
            requests: 0,
            ok: 0,
            rejected: 0,
            errors: 0,
            statuses: BTreeMap::new(),
            problems: BTreeMap::new(),
            windows: Vec::new(),
        })
    }

    pub fn add(&mut self, s: ConnStats) -> Result<(), BenchError> {
        self.hist.add(&s.hist).map_err(|e| BenchError::Internal(format!("histogram merge: {e:?}")))?;
        self.add_windows(&s.windows)?;
        self.requests += s.requests;
        self.ok += s.ok;
        self.rejected += s.rejected;
        self.errors += s.errors;
        for (code, n) in s.statuses.iter().enumerate() {
            if *n > 0 {
                *self.statuses.entry(code.to_string()).or_default() += n;
            }
        }
        for (name, n) in [("connect", s.connect_errors), ("transport", s.transport_errors), ("timeout", s.timeouts)] {
            if n > 0 {
                *self.statuses.entry(name.to_owned()).or_default() += n;
            }
        }
        for (problem, n) in s.problems {
            *self.problems.entry(problem).or_default() += n;
        }
        Ok(())
    }

    /// Adds everything counted in `other`.
    pub fn merge(&mut self, other: &Totals) -> Result<(), BenchError> {
        self.hist.add(&other.hist).map_err(|e| BenchError::Internal(format!("histogram merge: {e:?}")))?;
        self.add_windows(&other.windows)?;
        self.requests += other.requests;
        self.ok += other.ok;
        self.rejected += other.rejected;
        self.errors += other.errors;
        for (k, n) in &other.statuses {
            *self.statuses.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.problems {
            *self.problems.entry(k.clone()).or_default() += n;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn merge_counts_everything() {
        let live = Live::default();
        let mut a = ConnStats::new().unwrap();
        a.response(&live, StatusCode::CREATED, 1500, None, Class::Ok);
        a.response(&live, StatusCode::CONFLICT, 900, Some("/problems/sold-out"), Class::Rejected);
        let mut b = ConnStats::new().unwrap();
        b.failure(&live, &Attempt::Timeout);
        b.response(&live, StatusCode::CREATED, 2_000_000, None, Class::Ok);
        let mut t = Totals::new().unwrap();
        t.add(a).unwrap();
        t.add(b).unwrap();
        assert_eq!((t.requests, t.ok, t.rejected, t.errors), (4, 2, 1, 1));
        assert_eq!(t.statuses["201"], 2);
        assert_eq!(t.statuses["409"], 1);
        assert_eq!(t.statuses["timeout"], 1);
        assert_eq!(t.problems["/problems/sold-out"], 1);
        assert_eq!(t.hist.len(), 3);
        assert!(t.hist.max() >= 1_990_000);
        assert_eq!(live.requests.load(Ordering::Relaxed), 4);
        assert_eq!(live.errors.load(Ordering::Relaxed), 1);
        let mut again = Totals::new().unwrap();
        again.merge(&t).unwrap();
        again.merge(&t).unwrap();
        assert_eq!((again.requests, again.ok, again.rejected, again.errors), (8, 4, 2, 2));
        assert_eq!((again.statuses["201"], again.problems["/problems/sold-out"], again.hist.len()), (4, 2, 6));
    }

    #[test]
    fn answers_are_counted_in_the_window_they_arrive_in() {
        let live = Live::default();
        // The load started two and a half windows ago.
        live.origin.set(Instant::now() - WINDOW * 5 / 2).unwrap();
        let mut a = ConnStats::new().unwrap();
        a.response(&live, StatusCode::CREATED, 400_000, None, Class::Ok);
        let mut t = Totals::new().unwrap();
        t.add(a).unwrap();
        assert_eq!(t.windows.len(), 3);
        assert_eq!(t.windows.iter().map(Histogram::len).collect::<Vec<_>>(), vec![0, 0, 1]);
        assert!(t.windows[2].max() >= 399_000);
    }
}
