//! `stampede-clock` owns where "now" comes from: the [`Clock`] trait, the
//! machine's [`SystemClock`], and a [`ManualClock`] that tests and a
//! deterministic simulator move by hand.
//!
//! A crate of its own, not a module of the engine or the core: the engine
//! stamps commands with it and the account store expires sessions and tokens
//! with it, and the two must read the same clock (a test that moves time moves
//! both), yet the store must not depend on the engine, and the core reads no
//! clock at all (time arrives inside its commands).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where "now" comes from. Callers stamp the time on what they do; nothing
/// below them reads a clock of its own.
pub trait Clock: Send + Sync {
    /// Microseconds since the Unix epoch.
    fn now_us(&self) -> i64;
}

/// The machine's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
    }
}

/// A clock that stands still until it is moved. Clones share one time, so a
/// test keeps one and hands the other to what it runs.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now_us: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock showing `now_us`.
    pub fn at(now_us: i64) -> Self {
        Self { now_us: Arc::new(AtomicI64::new(now_us)) }
    }

    /// Sets the time (it may go back: the engine never stamps a sale's command
    /// earlier than the one before, whatever its clock says).
    pub fn set(&self, now_us: i64) {
        self.now_us.store(now_us, Ordering::SeqCst);
    }

    /// Moves the time forward by `us` (saturating).
    pub fn advance(&self, us: i64) {
        let _ = self.now_us.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| Some(t.saturating_add(us)));
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> i64 {
        self.now_us.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_one_time() {
        let clock = ManualClock::at(10);
        let handed_out: Arc<dyn Clock> = Arc::new(clock.clone());
        clock.advance(5);
        assert_eq!(handed_out.now_us(), 15);
        clock.set(3);
        assert_eq!(handed_out.now_us(), 3);
        clock.set(i64::MAX - 1);
        clock.advance(10);
        assert_eq!(handed_out.now_us(), i64::MAX);
    }

    #[test]
    fn system_clock_is_past_2020() {
        assert!(SystemClock.now_us() > 1_577_836_800_000_000);
    }
}
