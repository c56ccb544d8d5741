//! The simulator in CI: many seeds, each a few hundred steps, every check on.

use stampede_sim::{draw, run, run_plan};

/// Seeds `.ci/run` covers, and steps per seed (sized so the whole test stays
/// within its time budget in a debug build on two busy cores).
const SEEDS: u64 = 500;
const STEPS: usize = 200;

#[test]
fn five_hundred_seeds_pass_every_check() {
    let started = std::time::Instant::now();
    let mut totals = stampede_sim::Stats::default();
    for seed in 0..SEEDS {
        match run(seed, STEPS) {
            Ok(report) => {
                let s = report.stats;
                totals.requests += s.requests;
                totals.acknowledged += s.acknowledged;
                totals.entries += s.entries;
                totals.snapshots += s.snapshots;
                totals.crashes += s.crashes;
                totals.torn += s.torn;
                totals.failed_appends += s.failed_appends;
                totals.recovered_from_snapshot += s.recovered_from_snapshot;
                totals.holds += s.holds;
                totals.for_friends += s.for_friends;
                totals.confirmed += s.confirmed;
                totals.clicks += s.clicks;
                totals.admitted += s.admitted;
            }
            Err(shrunk) => panic!("{shrunk}"),
        }
    }
    eprintln!("{SEEDS} seeds x {STEPS} steps in {:?}: {totals:?}", started.elapsed());
    // The runs must have exercised what they claim to check.
    assert!(totals.crashes > SEEDS, "{totals:?}");
    assert!(totals.torn > SEEDS / 4 && totals.failed_appends > SEEDS / 4, "{totals:?}");
    assert!(totals.recovered_from_snapshot > 0 && totals.for_friends > 0, "{totals:?}");
    assert!(totals.confirmed > SEEDS && totals.clicks > SEEDS && totals.admitted > SEEDS, "{totals:?}");
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [7, 1234, 99_999] {
        let a = run_plan(&draw(seed, 300)).unwrap_or_else(|f| panic!("seed {seed}: {f}"));
        let b = run_plan(&draw(seed, 300)).unwrap_or_else(|f| panic!("seed {seed}: {f}"));
        assert_eq!(a, b, "seed {seed} ran twice differently");
        let other = run_plan(&draw(seed + 1, 300)).unwrap_or_else(|f| panic!("seed {}: {f}", seed + 1));
        assert_ne!(a.tips, other.tips, "two seeds ended in the same log");
    }
}

/// The checks fire: a decision applied in memory but never logged (the
/// harness drops one request's entry) is caught, the trace shrinks, and the
/// shrunk plan still fails the same way when run again.
#[test]
fn an_unlogged_decision_is_caught_and_shrunk() {
    let mut caught = 0;
    for seed in 0..20 {
        let mut plan = draw(seed, 200);
        plan.unlogged_request = Some(40);
        let Err(failure) = run_plan(&plan) else { continue };
        caught += 1;
        let shrunk = stampede_sim::shrink(&plan, failure.clone());
        assert!(shrunk.plan.ops.len() <= failure.step + 1, "seed {seed}: shrinking grew the plan");
        assert_eq!(run_plan(&shrunk.plan).err(), Some(shrunk.failure.clone()), "seed {seed}: the shrunk plan");
        let text = shrunk.to_string();
        assert!(text.contains(&format!("stampede sim --seed {seed} --steps 200")), "{text}");
    }
    // A dropped entry goes unnoticed only when the request changed nothing
    // the checks look at and no crash followed; most seeds catch it.
    assert!(caught >= 10, "only {caught} of 20 seeds caught an unlogged decision");
}
