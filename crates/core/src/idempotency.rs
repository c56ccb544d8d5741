//! Idempotency: a repeated command returns its first outcome and has no second effect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Action, HoldId, Outcome, UserId};

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

/// What the table keeps of a key: 16 bytes of its BLAKE3 hash instead of
/// its text (two keys of one person colliding is a 2^-128 event, and a key
/// names only its sender's commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct KeyDigest([u8; 16]);

impl KeyDigest {
    fn of(key: &IdempotencyKey) -> Self {
        let mut digest = [0; 16];
        digest.copy_from_slice(&blake3::hash(key.as_str().as_bytes()).as_bytes()[..16]);
        KeyDigest(digest)
    }
}

/// A first answer as remembered. A rush is mostly holds, and a hold's first
/// answer is the hold as it was taken, which the sale keeps anyway: so a
/// hold is remembered by its id alone, and the sale gives back the command
/// and the answer from the hold ([`Sale`](crate::Sale) checks, before it
/// remembers one that way, that they come back exactly). Anything else is
/// kept whole, out of line so the table's entries stay small.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum FirstAnswer {
    Held(HoldId),
    Whole(Box<(Action, Outcome)>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    at_us: i64,
    answer: FirstAnswer,
}

/// Most keys remembered per person per sale: a client cannot grow the table
/// without bound by sending fresh keys. Beyond it the person's oldest key is
/// forgotten (deterministically, so replay forgets the same one: the oldest
/// by time, ties by key hash).
pub const IDEMPOTENCY_KEYS_PER_PERSON_MAX: usize = 1024;

/// How many keys one person has, and when the oldest was remembered, so the
/// table looks at a person's keys only when one is due to be forgotten.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PersonKeys {
    count: u32,
    oldest_at_us: i64,
}

/// First answers by (person, key), forgotten after [`IDEMPOTENCY_TTL_US`] or
/// beyond [`IDEMPOTENCY_KEYS_PER_PERSON_MAX`]. Expiry is applied per person
/// when that person next sends a command, so memory is bounded by people ×
/// the per-person cap, and nothing depends on unlogged ticks.
///
/// One flat map of small entries (48 bytes: no key text, no per-person map)
/// because memory per hold is what a rush of millions pays (issue 12's
/// budget is 200 bytes per hold, this table's share included).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdempotencyTable {
    #[serde(with = "entries")]
    keys: BTreeMap<(UserId, KeyDigest), Remembered>,
    people: BTreeMap<UserId, PersonKeys>,
}

pub(crate) enum Recall {
    New,
    Repeat(Outcome),
    Conflict,
}

impl IdempotencyTable {
    /// `held` gives back a hold's command and first answer from its id.
    pub(crate) fn recall(
        &mut self,
        by: UserId,
        key: &IdempotencyKey,
        action: &Action,
        now_us: i64,
        held: impl FnOnce(HoldId) -> Option<(Action, Outcome)>,
    ) -> Recall {
        let Some(person) = self.people.get(&by) else { return Recall::New };
        let horizon_us = now_us.saturating_sub(IDEMPOTENCY_TTL_US);
        if person.oldest_at_us <= horizon_us {
            self.forget_before(by, horizon_us);
        }
        let Some(remembered) = self.keys.get(&(by, KeyDigest::of(key))) else { return Recall::New };
        let first = match &remembered.answer {
            FirstAnswer::Held(id) => held(*id),
            FirstAnswer::Whole(first) => Some((first.0.clone(), first.1.clone())),
        };
        match first {
            Some((first_action, outcome)) if first_action == *action => Recall::Repeat(outcome),
            // A hold the sale no longer has cannot happen (holds are never
            // dropped); refusing is the answer with no effect.
            _ => Recall::Conflict,
        }
    }

    pub(crate) fn remember(&mut self, by: UserId, key: &IdempotencyKey, answer: FirstAnswer, at_us: i64) {
        let fresh = self.keys.insert((by, KeyDigest::of(key)), Remembered { at_us, answer }).is_none();
        let person = self.people.entry(by).or_insert(PersonKeys { count: 0, oldest_at_us: at_us });
        if fresh {
            person.count += 1;
        }
        person.oldest_at_us = person.oldest_at_us.min(at_us);
        if person.count as usize > IDEMPOTENCY_KEYS_PER_PERSON_MAX {
            let oldest = self.person_keys(by).min_by_key(|(digest, r)| (r.at_us, *digest)).map(|(digest, _)| digest);
            self.forget(by, oldest.into_iter().collect());
        }
    }

    fn person_keys(&self, by: UserId) -> impl Iterator<Item = (KeyDigest, &Remembered)> {
        let all = (by, KeyDigest([0; 16]))..=(by, KeyDigest([u8::MAX; 16]));
        self.keys.range(all).map(|((_, digest), r)| (*digest, r))
    }

    /// Forgets `by`'s keys remembered at or before `horizon_us`.
    fn forget_before(&mut self, by: UserId, horizon_us: i64) {
        let stale = self.person_keys(by).filter(|(_, r)| r.at_us <= horizon_us).map(|(d, _)| d).collect();
        self.forget(by, stale);
    }

    /// Forgets these keys of `by`'s, then notes when their oldest left was remembered.
    fn forget(&mut self, by: UserId, digests: Vec<KeyDigest>) {
        let removed = digests.into_iter().filter(|d| self.keys.remove(&(by, *d)).is_some()).count();
        let oldest = self.person_keys(by).map(|(_, r)| r.at_us).min();
        match (self.people.get_mut(&by), oldest) {
            (Some(person), Some(oldest_at_us)) => {
                person.count -= removed as u32;
                person.oldest_at_us = oldest_at_us;
            }
            _ => {
                self.people.remove(&by);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// A map whose keys are not strings, as a list of pairs: so a [`crate::Sale`]
/// still has a JSON form (tests edit snapshots through it).
mod entries {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
