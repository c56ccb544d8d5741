//! `stampede-sim` owns the deterministic simulator behind `stampede sim`: the
//! real engine's decision, record and recovery code run on one thread, on a
//! virtual clock, with an in-memory log that fails or tears appends, random
//! clients and random crashes, checked after every step against simple
//! models ([`model`]).
//!
//! Everything a run does follows from its seed ([`plan::draw`]): one thread, a
//! seeded generator, no wall clock, ordered maps only. A failure reports its
//! seed, its step, and a trace shrunk to the operations that still make it
//! fail ([`shrink`]); running the seed again reproduces it exactly.

pub mod model;
pub mod plan;
mod world;

use std::fmt;

pub use plan::{Op, Plan, Req, ReqKind, draw};
pub use world::Stats;

use world::World;

/// A run that ended with every check passing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub seed: u64,
    pub steps: usize,
    pub stats: Stats,
    /// Every sale's final (id, entries, last hash): equal for equal plans.
    pub tips: Vec<(u64, u64, [u8; 32])>,
}

/// A check that failed, at the step (0-based index into the plan's ops) it failed after.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("step {step}: {problem}")]
pub struct Failure {
    pub step: usize,
    pub problem: String,
}

/// Runs a plan: each operation, then every check. A panic in the code under
/// test is a failure like any other (at the step it happened in).
pub fn run_plan(plan: &Plan) -> Result<Report, Failure> {
    let step = std::cell::Cell::new(0);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_steps(plan, &step))) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(Failure { step: step.get(), problem: format!("panicked: {message}") })
        }
    }
}

fn run_steps(plan: &Plan, current: &std::cell::Cell<usize>) -> Result<Report, Failure> {
    let at = |step: usize| move |problem: String| Failure { step, problem };
    let mut world = World::new(plan).map_err(at(0))?;
    for (step, op) in plan.ops.iter().enumerate() {
        current.set(step);
        world.apply(op).map_err(at(step))?;
        world.check().map_err(at(step))?;
        // Asking every remembered key again costs a copy of each sale, so it
        // runs on every restart (in `World`) and every 16th step.
        if step % 16 == 15 {
            world.check_remembered().map_err(at(step))?;
        }
    }
    let last = plan.ops.len().saturating_sub(1);
    world.check_remembered().map_err(at(last))?;
    world.audit().map_err(at(last))?;
    Ok(Report { seed: plan.seed, steps: plan.ops.len(), stats: world.stats.clone(), tips: world.tips() })
}

/// Runs seed `seed` for `steps` operations; a failure comes back shrunk.
pub fn run(seed: u64, steps: usize) -> Result<Report, Box<Shrunk>> {
    let plan = draw(seed, steps);
    run_plan(&plan).map_err(|failure| {
        // Shrinking reruns a failing plan hundreds of times: one panic
        // message (the first run's) is enough.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let shrunk = shrink(&plan, failure);
        std::panic::set_hook(hook);
        Box::new(shrunk)
    })
}

/// A failed run and the smallest plan found that still fails.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub seed: u64,
    pub steps: usize,
    /// The failure of the full plan.
    pub original: Failure,
    /// The shrunk plan and how it fails.
    pub plan: Plan,
    pub failure: Failure,
    /// Plans tried while shrinking.
    pub tries: usize,
}

/// Most plans tried while shrinking, so a failure is reported in seconds.
pub const SHRINK_TRIES_MAX: usize = 400;

/// Removes operations (halves, then quarters, down to single ones, then
/// single requests of a batch) while the plan still fails.
pub fn shrink(plan: &Plan, failure: Failure) -> Shrunk {
    let mut best = plan.clone();
    best.ops.truncate(failure.step + 1);
    let mut best_failure = failure.clone();
    let mut tries = 0;
    let attempt = |candidate: Plan, best: &mut Plan, best_failure: &mut Failure, tries: &mut usize| {
        *tries += 1;
        if let Err(f) = run_plan(&candidate) {
            let mut candidate = candidate;
            candidate.ops.truncate(f.step + 1);
            *best = candidate;
            *best_failure = f;
            true
        } else {
            false
        }
    };
    let mut chunk = best.ops.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        while i < best.ops.len() && tries < SHRINK_TRIES_MAX {
            let mut candidate = best.clone();
            let end = (i + chunk).min(candidate.ops.len());
            candidate.ops.drain(i..end);
            if !attempt(candidate, &mut best, &mut best_failure, &mut tries) {
                i += chunk;
            }
        }
        if chunk == 1 || tries >= SHRINK_TRIES_MAX {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    for op in (0..best.ops.len()).rev() {
        let mut req = 0;
        while tries < SHRINK_TRIES_MAX {
            let Some(Op::Batch(reqs)) = best.ops.get(op) else { break };
            if req >= reqs.len() || reqs.len() == 1 {
                break;
            }
            let mut candidate = best.clone();
            if let Some(Op::Batch(reqs)) = candidate.ops.get_mut(op) {
                reqs.remove(req);
            }
            if !attempt(candidate, &mut best, &mut best_failure, &mut tries) {
                req += 1;
            }
        }
    }
    Shrunk { seed: plan.seed, steps: plan.ops.len(), original: failure, plan: best, failure: best_failure, tries }
}

impl fmt::Display for Shrunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "FAILED: seed {} ({} steps) failed at {}", self.seed, self.steps, self.original)?;
        writeln!(f, "reproduce: stampede sim --seed {} --steps {}", self.seed, self.steps)?;
        writeln!(
            f,
            "shrunk to {} operations ({} plans tried), failing at {}:",
            self.plan.ops.len(),
            self.tries,
            self.failure
        )?;
        writeln!(f, "  sales: {}", self.plan.sales.len())?;
        for s in &self.plan.sales {
            writeln!(
                f,
                "    {} queue {:?} opens {:?}",
                s.kind_summary(),
                s.queue.as_ref().map(|q| q.policy),
                s.opens_at_us
            )?;
        }
        for (i, op) in self.plan.ops.iter().enumerate() {
            writeln!(f, "  {i:>4} {op:?}")?;
        }
        Ok(())
    }
}

/// A line per sale kind in a trace (a venue's seats would fill screens).
trait KindSummary {
    fn kind_summary(&self) -> String;
}

impl KindSummary for stampede_core::SaleConfig {
    fn kind_summary(&self) -> String {
        match &self.kind {
            stampede_core::KindConfig::Stock(c) => format!("{c:?}"),
            stampede_core::KindConfig::Drop(c) => format!("{c:?}"),
            stampede_core::KindConfig::Seated(c) => format!(
                "Seated {{ seats: {}, per_person_limit: {}, seats_per_hold_max: {}, hold_ttl_us: {} }}",
                c.venue.seat_count(),
                c.per_person_limit,
                c.seats_per_hold_max,
                c.hold_ttl_us
            ),
        }
    }
}
