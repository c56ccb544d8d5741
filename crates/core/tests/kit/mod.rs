//! The properties every sale kind must have, whatever its rules, written once
//! and run by each kind's model test with its own command generator:
//!
//! - **determinism**: two fresh sales, and a clone taken midway, agree on
//!   every outcome, event and state;
//! - **replay**: ticks the sale reports as unchanged can be left out of the
//!   log; replaying the rest gives the same answers and the same whole `Sale`
//!   after every logged input (what a snapshot taken there must equal);
//! - **remembered keys**: a command repeating a remembered (person, key)
//!   changes nothing and emits nothing; it answers the first outcome, or
//!   `IdempotencyKeyReused` for another action;
//! - the invariants hold after every input.
//!
//! A kind's own rules are checked against its model in its own file.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use stampede_core::{
    Action, Event, IDEMPOTENCY_KEYS_PER_PERSON_MAX, IDEMPOTENCY_TTL_US, Input, Outcome, Rejection, Sale, SaleConfig,
};

/// Runs every generic property over one generated input sequence.
/// `split` picks where the midway clone is taken.
pub fn properties(config: &SaleConfig, inputs: &[Input], split: prop::sample::Index) -> Result<(), TestCaseError> {
    deterministic(config, inputs, split.index(inputs.len() + 1))?;
    replays_without_unchanged_ticks(config, inputs)?;
    remembered_keys_do_nothing(config, inputs)
}

pub fn deterministic(config: &SaleConfig, inputs: &[Input], split: usize) -> Result<(), TestCaseError> {
    let (mut a, mut b) = (Sale::new(config.clone()), Sale::new(config.clone()));
    prop_assert!(a == b);
    let mut c = None;
    for (i, input) in inputs.iter().enumerate() {
        if i == split {
            c = Some(a.clone());
        }
        let applied = a.apply(input);
        prop_assert_eq!(&applied, &b.apply(input), "at input {}", i);
        if let Some(c) = &mut c {
            prop_assert_eq!(&applied, &c.apply(input), "clone taken at {}, input {}", split, i);
            prop_assert!(*c == a, "clone diverged at input {i}");
        }
        prop_assert!(a == b, "states diverged at input {i}");
        prop_assert_eq!(a.check_invariants(), Ok(()), "after input {}", i);
    }
    Ok(())
}

/// Time stamped in order, as the engine stamps it.
fn in_time_order(inputs: &[Input]) -> Vec<Input> {
    let mut last = i64::MIN;
    inputs
        .iter()
        .map(|input| {
            last = last.max(input.at_us());
            match input {
                Input::Tick { .. } => Input::Tick { at_us: last },
                Input::Command(c) => {
                    let mut c = c.clone();
                    c.at_us = last;
                    Input::Command(c)
                }
            }
        })
        .collect()
}

pub fn replays_without_unchanged_ticks(config: &SaleConfig, inputs: &[Input]) -> Result<(), TestCaseError> {
    let inputs = in_time_order(inputs);
    let mut live = Sale::new(config.clone());
    let mut logged = Vec::new();
    let mut left_out = 0usize;
    for input in &inputs {
        let applied = live.apply(input);
        if applied.changed {
            logged.push((input.clone(), applied, live.clone()));
        } else {
            prop_assert!(applied.events.is_empty(), "an unchanged tick emitted {:?}", applied.events);
            left_out += 1;
        }
    }
    let mut replay = Sale::new(config.clone());
    for (input, applied, state) in &logged {
        prop_assert_eq!(&replay.apply(input), applied, "replaying {:?}", input);
        prop_assert!(replay == *state, "replayed state differs after {input:?}");
    }
    prop_assert_eq!(replay.view(), live.view());
    prop_assert_eq!(replay.next_deadline_us(), live.next_deadline_us());
    prop_assert_eq!(logged.len() + left_out, inputs.len());
    Ok(())
}

pub fn remembered_keys_do_nothing(config: &SaleConfig, inputs: &[Input]) -> Result<(), TestCaseError> {
    let mut sale = Sale::new(config.clone());
    // (person, key) -> (action, first outcome, when it was answered)
    let mut first: BTreeMap<(u64, String), (Action, Outcome, i64)> = BTreeMap::new();
    let mut keys_of: BTreeMap<u64, usize> = BTreeMap::new();
    for input in inputs {
        let Input::Command(c) = input else {
            sale.apply(input);
            continue;
        };
        let slot = (c.by.0, c.key.as_str().to_owned());
        match first.get(&slot).cloned() {
            // Still remembered: within the key's lifetime, and the person never
            // used so many keys that the oldest were forgotten.
            Some((action, outcome, at))
                if input.at_us().max(sale.last_at_us()) - at < IDEMPOTENCY_TTL_US
                    && keys_of.get(&c.by.0).copied().unwrap_or(0) < IDEMPOTENCY_KEYS_PER_PERSON_MAX =>
            {
                // Let time pass first, so the repeat's own effect (none) shows alone.
                sale.apply(&Input::Tick { at_us: c.at_us });
                let before = sale.clone();
                let applied = sale.apply(input);
                prop_assert!(sale == before, "a remembered key changed the sale: {input:?}");
                prop_assert_eq!(&applied.events, &Vec::<Event>::new(), "a remembered key emitted events");
                let expected =
                    if action == c.action { outcome } else { Outcome::Rejected(Rejection::IdempotencyKeyReused) };
                prop_assert_eq!(&applied.outcome, &expected, "remembered key {:?}", slot);
            }
            // Forgotten (or never seen): a new command, remembered afresh.
            _ => {
                let applied = sale.apply(input);
                *keys_of.entry(c.by.0).or_insert(0) += 1;
                first.insert(slot, (c.action.clone(), applied.outcome, sale.last_at_us()));
            }
        }
    }
    Ok(())
}
