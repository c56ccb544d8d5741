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

/// First outcomes by (person, key), forgotten after [`IDEMPOTENCY_TTL_US`].
/// Nested by person so a lookup compares a few of one person's keys and
/// needs no owned copy of the key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdempotencyTable {
    by_person: BTreeMap<UserId, BTreeMap<IdempotencyKey, Remembered>>,
    /// Insertion order equals time order because inputs arrive in time order.
    order: VecDeque<(i64, UserId, IdempotencyKey)>,
    len: usize,
}

pub(crate) enum Recall {
    New,
    Repeat(Outcome),
    Conflict,
}

impl IdempotencyTable {
    pub(crate) fn recall(&self, by: UserId, key: &IdempotencyKey, action: &Action) -> Recall {
        match self.by_person.get(&by).and_then(|keys| keys.get(key)) {
            None => Recall::New,
            Some(r) if &r.action == action => Recall::Repeat(r.outcome.clone()),
            Some(_) => Recall::Conflict,
        }
    }

    pub(crate) fn remember(&mut self, by: UserId, key: IdempotencyKey, action: Action, outcome: Outcome, at_us: i64) {
        self.order.push_back((at_us, by, key.clone()));
        if self.by_person.entry(by).or_default().insert(key, Remembered { action, outcome, at_us }).is_none() {
            self.len += 1;
        }
    }

    /// Forgets keys older than the TTL. Deterministic because it depends only on `now_us`.
    pub(crate) fn forget_before(&mut self, now_us: i64) {
        let horizon = now_us.saturating_sub(IDEMPOTENCY_TTL_US);
        while let Some((at, _, _)) = self.order.front() {
            if *at > horizon {
                break;
            }
            let Some((at, by, key)) = self.order.pop_front() else { break };
            let Some(keys) = self.by_person.get_mut(&by) else { continue };
            if keys.get(&key).is_some_and(|r| r.at_us == at) {
                keys.remove(&key);
                self.len -= 1;
                if keys.is_empty() {
                    self.by_person.remove(&by);
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}
