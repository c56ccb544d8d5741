//! Idempotency: a repeated command returns its first outcome and has no second effect.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::{Action, Outcome, UserId};

/// Longest accepted idempotency key, in bytes.
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 64;

/// How long a key is remembered. Bounded so the table cannot grow forever; a
/// day covers any client retry loop.
pub const IDEMPOTENCY_TTL_US: i64 = 24 * 3600 * crate::US_PER_S;

/// A client-chosen key naming one intended command (1-64 printable ASCII bytes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidKey;

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidKey> {
        let ok = !raw.is_empty() && raw.len() <= IDEMPOTENCY_KEY_LEN_MAX && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok { Ok(IdempotencyKey(raw.to_owned())) } else { Err(InvalidKey) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    action: Action,
    outcome: Outcome,
    at_us: i64,
}

/// Most keys remembered per person per sale: a client cannot grow the table
/// without bound by sending fresh keys. Beyond it the person's oldest key is
/// forgotten (deterministically, so replay forgets the same one).
pub const IDEMPOTENCY_KEYS_PER_PERSON_MAX: usize = 1024;

/// One person's remembered keys, oldest first in `order`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PersonKeys {
    keys: BTreeMap<IdempotencyKey, Remembered>,
    order: VecDeque<(i64, IdempotencyKey)>,
}

impl PersonKeys {
    /// Drops keys past the TTL; inputs arrive in time order, so they are at the front.
    fn forget_before(&mut self, horizon_us: i64) {
        while self.order.front().is_some_and(|(at, _)| *at <= horizon_us) {
            if let Some((_, key)) = self.order.pop_front() {
                self.keys.remove(&key);
            }
        }
    }
}

/// First outcomes by (person, key), forgotten after [`IDEMPOTENCY_TTL_US`] or
/// beyond [`IDEMPOTENCY_KEYS_PER_PERSON_MAX`]. Expiry is applied per person
/// when that person next sends a command, so memory is bounded by people ×
/// the per-person cap, and nothing depends on unlogged ticks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdempotencyTable {
    by_person: BTreeMap<UserId, PersonKeys>,
}

pub(crate) enum Recall {
    New,
    Repeat(Outcome),
    Conflict,
}

impl IdempotencyTable {
    pub(crate) fn recall(&mut self, by: UserId, key: &IdempotencyKey, action: &Action, now_us: i64) -> Recall {
        let Some(person) = self.by_person.get_mut(&by) else { return Recall::New };
        person.forget_before(now_us.saturating_sub(IDEMPOTENCY_TTL_US));
        match person.keys.get(key) {
            None => Recall::New,
            Some(r) if &r.action == action => Recall::Repeat(r.outcome.clone()),
            Some(_) => Recall::Conflict,
        }
    }

    pub(crate) fn remember(&mut self, by: UserId, key: IdempotencyKey, action: Action, outcome: Outcome, at_us: i64) {
        let person = self.by_person.entry(by).or_default();
        person.order.push_back((at_us, key.clone()));
        person.keys.insert(key, Remembered { action, outcome, at_us });
        while person.order.len() > IDEMPOTENCY_KEYS_PER_PERSON_MAX {
            if let Some((_, oldest)) = person.order.pop_front() {
                person.keys.remove(&oldest);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_person.values().map(|p| p.keys.len()).sum()
    }
}
