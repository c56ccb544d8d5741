//! `stampede-clock` owns where "now" comes from: the [`Clock`] trait, the
//! machine's [`SystemClock`], the [`AnchoredClock`] a server runs on (the
//! wall time read once, then advanced by the monotonic clock, so a jump of
//! the wall clock does not move sales' time), and a [`ManualClock`] that
//! tests and a deterministic simulator move by hand.
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

/// The machine's monotonic clock (`CLOCK_MONOTONIC` on Linux, which NTP slews
/// but never steps), as microseconds since its first reading in this process:
/// it never goes back and never jumps, but it is no date. Use it to measure,
/// or as the steady part of an [`AnchoredClock`].
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now_us(&self) -> i64 {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let origin = *ORIGIN.get_or_init(std::time::Instant::now);
        i64::try_from(origin.elapsed().as_micros()).unwrap_or(i64::MAX)
    }
}

/// The wall time read once, at the start, then advanced by a steady clock.
///
/// Why: a sale's holds expire, and its schedule turns, by the time the engine
/// stamps on its commands. If that time were the wall clock read afresh, an
/// operator's `date -s`, an NTP step or a VM resumed with a stale clock would
/// move every sale at once: a jump forward of an hour expires every hold of an
/// hour's lifetime early (and opens sales early), a jump back stalls them.
/// Anchored, a jump of the wall clock during a run moves nothing; only the
/// steady clock's elapsed time does (NTP still corrects its rate by slewing).
/// A wall clock that was wrong at the start stays wrong by the same amount
/// until a restart re-anchors it; the engine never stamps a sale's command
/// earlier than its last entry, so a restart on a clock that went back does
/// not run a sale's time backwards either, it holds it still until the clock
/// catches up.
#[derive(Clone)]
pub struct AnchoredClock {
    /// The wall time at the anchor, in microseconds since the Unix epoch.
    wall_at_anchor_us: i64,
    /// The steady clock's reading at the anchor.
    steady_at_anchor_us: i64,
    /// What advances the time after the anchor; never the wall clock.
    steady: Arc<dyn Clock>,
}

impl std::fmt::Debug for AnchoredClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnchoredClock")
            .field("wall_at_anchor_us", &self.wall_at_anchor_us)
            .field("steady_at_anchor_us", &self.steady_at_anchor_us)
            .finish_non_exhaustive()
    }
}

impl AnchoredClock {
    /// The machine's wall clock, read now, advanced by its monotonic clock:
    /// what `stampede serve` runs on.
    pub fn system() -> Self {
        Self::anchor(&SystemClock, Arc::new(MonotonicClock))
    }

    /// Reads `wall` once (now) and from then on advances by `steady` (tests
    /// and the simulator pass two [`ManualClock`]s and move them apart).
    pub fn anchor(wall: &dyn Clock, steady: Arc<dyn Clock>) -> Self {
        let steady_at_anchor_us = steady.now_us();
        Self { wall_at_anchor_us: wall.now_us(), steady_at_anchor_us, steady }
    }
}

impl Clock for AnchoredClock {
    fn now_us(&self) -> i64 {
        // A steady clock never goes back; a hand-moved one might, and the
        // engine keeps stamps monotonic whatever this says.
        let elapsed_us = self.steady.now_us().saturating_sub(self.steady_at_anchor_us);
        self.wall_at_anchor_us.saturating_add(elapsed_us)
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
    fn an_anchored_clock_follows_the_steady_clock_and_ignores_later_wall_jumps() {
        let wall = ManualClock::at(1_800_000_000_000_000);
        let steady = ManualClock::at(42);
        let clock = AnchoredClock::anchor(&wall, Arc::new(steady.clone()));
        assert_eq!(clock.now_us(), 1_800_000_000_000_000);
        steady.advance(1_500);
        assert_eq!(clock.now_us(), 1_800_000_000_001_500);
        // The wall clock jumps an hour forward, then two back: nothing moves.
        wall.advance(3_600_000_000);
        assert_eq!(clock.now_us(), 1_800_000_000_001_500);
        wall.advance(-7_200_000_000);
        assert_eq!(clock.now_us(), 1_800_000_000_001_500);
        steady.advance(10);
        assert_eq!(clock.now_us(), 1_800_000_000_001_510);
        // A re-anchored clock (a restart) takes the wall time as it is then.
        let restarted = AnchoredClock::anchor(&wall, Arc::new(steady));
        assert_eq!(restarted.now_us(), 1_800_000_000_000_000 - 3_600_000_000);
    }

    #[test]
    fn the_system_anchored_clock_is_near_the_wall_clock_and_never_goes_back() {
        let before = SystemClock.now_us();
        let clock = AnchoredClock::system();
        let after = SystemClock.now_us();
        let mut last = clock.now_us();
        assert!(before <= last && last <= after + 1_000_000, "{before} {last} {after}");
        for _ in 0..1000 {
            let now = clock.now_us();
            assert!(now >= last, "{now} < {last}");
            last = now;
        }
        let (a, b) = (MonotonicClock.now_us(), MonotonicClock.now_us());
        assert!(0 <= a && a <= b, "{a} {b}");
    }

    #[test]
    fn system_clock_is_past_2020() {
        assert!(SystemClock.now_us() > 1_577_836_800_000_000);
    }
}
