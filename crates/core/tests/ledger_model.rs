//! Model-based tests of the wallet ledger.
//!
//! `Ledger::apply` is driven with random transfers, two-phase posts and voids,
//! repeats and ticks, and compared after every input with [`Model`]: a
//! deliberately naive re-statement of the rules (a `Vec` of accounts with
//! `u128` totals, a `Vec` of remembered transfers, a `Vec` of live pending
//! ones, everything found by linear search). The model shares only data types
//! with the core, never its logic; its code table is its own.
//!
//! Checked along the way, apart from agreeing with the model: the posted
//! balances sum to zero (money is conserved, the world signed), no account
//! but the world has a negative available balance, each pending transfer ends
//! exactly once (posted, voided or expired; at the end every one has), a
//! repeated input changes nothing and answers the same, and a snapshot
//! (postcard, as the engine encodes them) round-trips.
//!
//! Amounts are small so that no total can overflow here; overflow has its own
//! example below.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_core::{
    AccountId, Ledger, LedgerEvent, LedgerInput, LedgerLimits, LedgerOutcome, LedgerRejection, Money, Movement,
    OrderRef, PENDING_TIMEOUT_MAX_US, PendingEnd, TRANSFER_ID_TTL_US, Transfer, TransferBody, TransferCode, TransferId,
    TransferRefs, UserId,
};

const T0: i64 = 1_000;
const BUYERS: u64 = 3;
const ORGANIZERS: u64 = 2;

fn tid(name: &str) -> TransferId {
    match TransferId::parse(name) {
        Ok(id) => id,
        Err(e) => panic!("{name:?} is a valid transfer id: {e}"),
    }
}

fn transfer(at_us: i64, id: &str, body: TransferBody) -> LedgerInput {
    LedgerInput::Transfer { at_us, transfer: Transfer { id: tid(id), body } }
}

fn movement(debit: AccountId, credit: AccountId, amount: u64, code: TransferCode) -> Movement {
    Movement { debit, credit, amount: Money::from_minor(amount), code, refs: TransferRefs::default() }
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MTotals {
    debits_posted: u128,
    credits_posted: u128,
    debits_pending: u128,
    credits_pending: u128,
}

#[derive(Clone, Debug)]
struct MRecord {
    id: TransferId,
    body: TransferBody,
    outcome: LedgerOutcome,
    end: Option<PendingEnd>,
    touched_at_us: i64,
}

#[derive(Clone, Debug)]
struct MPending {
    id: TransferId,
    movement: Movement,
    expires_at_us: i64,
}

struct Model {
    limits: LedgerLimits,
    now: i64,
    accounts: Vec<(AccountId, MTotals)>,
    records: Vec<MRecord>,
    pending: Vec<MPending>,
}

fn kind(a: AccountId) -> &'static str {
    match a {
        AccountId::World => "world",
        AccountId::Clearing => "clearing",
        AccountId::Fees => "fees",
        AccountId::Wallet(_) => "wallet",
        AccountId::Payable(_) => "payable",
    }
}

/// The module doc's table, written out flat.
const CODE_TABLE: &[(TransferCode, &str, &str)] = &[
    (TransferCode::TopUp, "world", "wallet"),
    (TransferCode::Grant, "world", "wallet"),
    (TransferCode::GatewayPayment, "world", "clearing"),
    (TransferCode::WalletPayment, "wallet", "clearing"),
    (TransferCode::Settlement, "clearing", "payable"),
    (TransferCode::Fee, "clearing", "fees"),
    (TransferCode::Fee, "payable", "fees"),
    (TransferCode::Refund, "clearing", "wallet"),
    (TransferCode::Refund, "payable", "wallet"),
    (TransferCode::GatewayRefund, "clearing", "world"),
    (TransferCode::GatewayRefund, "payable", "world"),
    (TransferCode::Payout, "payable", "world"),
];

impl Model {
    fn new(limits: LedgerLimits) -> Self {
        let fixed = [AccountId::World, AccountId::Clearing, AccountId::Fees];
        Model {
            limits,
            now: i64::MIN,
            accounts: fixed.iter().map(|a| (*a, MTotals::default())).collect(),
            records: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn totals(&self, a: AccountId) -> Option<MTotals> {
        self.accounts.iter().find(|(id, _)| *id == a).map(|(_, t)| *t)
    }

    fn totals_mut(&mut self, a: AccountId) -> &mut MTotals {
        if !self.accounts.iter().any(|(id, _)| *id == a) {
            self.accounts.push((a, MTotals::default()));
        }
        let i = self.accounts.iter().position(|(id, _)| *id == a).unwrap_or(0);
        &mut self.accounts[i].1
    }

    fn deadline(&self) -> Option<i64> {
        self.pending.iter().map(|p| p.expires_at_us).min()
    }

    fn record(&self, id: &TransferId) -> Option<usize> {
        self.records.iter().position(|r| r.id == *id)
    }

    /// Takes a live pending transfer off the books and records how it ended.
    fn end(&mut self, id: &TransferId, end: PendingEnd, posted: u64) -> LedgerEvent {
        let i = self.pending.iter().position(|p| p.id == *id).unwrap_or(usize::MAX);
        let p = self.pending.remove(i);
        let amount = u128::from(p.movement.amount.minor());
        self.totals_mut(p.movement.debit).debits_pending -= amount;
        self.totals_mut(p.movement.credit).credits_pending -= amount;
        let now = self.now;
        if let Some(r) = self.records.iter_mut().find(|r| r.id == *id) {
            r.end = Some(end.clone());
            r.touched_at_us = now;
        }
        LedgerEvent::Ended {
            pending: id.clone(),
            end,
            posted: Money::from_minor(posted),
            released: Money::from_minor(p.movement.amount.minor() - posted),
        }
    }

    fn apply(&mut self, input: &LedgerInput) -> (LedgerOutcome, Vec<LedgerEvent>, bool) {
        let at = input.at_us();
        if at > self.now {
            self.now = at;
        }
        let now = self.now;
        let mut events = Vec::new();

        // Expiries, earliest first, ties by id.
        let mut due: Vec<(i64, TransferId)> =
            self.pending.iter().filter(|p| p.expires_at_us <= now).map(|p| (p.expires_at_us, p.id.clone())).collect();
        due.sort();
        let expired = !due.is_empty();
        for (_, id) in due {
            let e = self.end(&id, PendingEnd::Expired, 0);
            events.push(e);
        }

        // Forgetting: untouched for the TTL and not pending.
        let horizon = now.saturating_sub(TRANSFER_ID_TTL_US);
        let live: Vec<TransferId> = self.pending.iter().map(|p| p.id.clone()).collect();
        self.records.retain(|r| r.touched_at_us > horizon || live.contains(&r.id));

        let LedgerInput::Transfer { transfer: t, .. } = input else {
            return (LedgerOutcome::Ticked, events, expired);
        };
        if let Some(i) = self.record(&t.id) {
            let r = &self.records[i];
            let o =
                if r.body == t.body { r.outcome.clone() } else { LedgerOutcome::Rejected(LedgerRejection::IdReused) };
            return (o, events, true);
        }
        if self.records.len() >= self.limits.remembered_max {
            let max = self.limits.remembered_max as u64;
            return (LedgerOutcome::Rejected(LedgerRejection::TooManyTransfers { max }), events, true);
        }
        let outcome = match self.act(&t.id, &t.body, &mut events) {
            Ok(o) => o,
            Err(r) => LedgerOutcome::Rejected(r),
        };
        let no_room = matches!(
            outcome,
            LedgerOutcome::Rejected(
                LedgerRejection::TooManyAccounts { .. }
                    | LedgerRejection::TooManyPending { .. }
                    | LedgerRejection::TooManyTransfers { .. }
            )
        );
        if !no_room {
            self.records.push(MRecord {
                id: t.id.clone(),
                body: t.body.clone(),
                outcome: outcome.clone(),
                end: None,
                touched_at_us: now,
            });
        }
        (outcome, events, true)
    }

    fn check(&self, m: &Movement, pending_timeout: Option<i64>) -> Result<(), LedgerRejection> {
        if m.amount.minor() == 0 {
            return Err(LedgerRejection::ZeroAmount);
        }
        if m.debit == m.credit {
            return Err(LedgerRejection::SameAccount);
        }
        if !CODE_TABLE.iter().any(|(c, d, k)| *c == m.code && *d == kind(m.debit) && *k == kind(m.credit)) {
            return Err(LedgerRejection::CodeNotAllowed);
        }
        if let Some(timeout) = pending_timeout {
            if !(1..=PENDING_TIMEOUT_MAX_US).contains(&timeout) {
                return Err(LedgerRejection::BadTimeout { max_us: PENDING_TIMEOUT_MAX_US });
            }
            if self.pending.len() >= self.limits.pending_max {
                return Err(LedgerRejection::TooManyPending { max: self.limits.pending_max as u64 });
            }
        }
        if self.totals(m.credit).is_none() && self.accounts.len() >= self.limits.accounts_max {
            return Err(LedgerRejection::TooManyAccounts { max: self.limits.accounts_max as u64 });
        }
        if m.debit != AccountId::World {
            let t = self.totals(m.debit).unwrap_or_default();
            let available = t.credits_posted as i128 - t.debits_posted as i128 - t.debits_pending as i128;
            if available < i128::from(m.amount.minor()) {
                return Err(LedgerRejection::InsufficientFunds {
                    available: Money::from_minor(available.max(0) as u64),
                });
            }
        }
        Ok(())
    }

    fn live_pending(&self, id: &TransferId) -> Result<MPending, LedgerRejection> {
        if let Some(p) = self.pending.iter().find(|p| p.id == *id) {
            return Ok(p.clone());
        }
        match self.record(id).map(|i| &self.records[i]) {
            None => Err(LedgerRejection::UnknownPending),
            Some(r) => match (&r.end, &r.body) {
                (Some(PendingEnd::Posted { .. }), _) => Err(LedgerRejection::AlreadyPosted),
                (Some(PendingEnd::Voided { .. }), _) => Err(LedgerRejection::AlreadyVoided),
                (Some(PendingEnd::Expired), _) => Err(LedgerRejection::PendingExpired),
                (None, TransferBody::Pending { .. }) => Err(LedgerRejection::UnknownPending),
                (None, _) => Err(LedgerRejection::NotPending),
            },
        }
    }

    fn act(
        &mut self,
        id: &TransferId,
        body: &TransferBody,
        events: &mut Vec<LedgerEvent>,
    ) -> Result<LedgerOutcome, LedgerRejection> {
        let now = self.now;
        match body {
            TransferBody::Single(m) => {
                self.check(m, None)?;
                let a = u128::from(m.amount.minor());
                self.totals_mut(m.debit).debits_posted += a;
                self.totals_mut(m.credit).credits_posted += a;
                events.push(LedgerEvent::Moved { id: id.clone(), pending: None, movement: *m });
                Ok(LedgerOutcome::Transferred)
            }
            TransferBody::Pending { movement: m, timeout_us } => {
                self.check(m, Some(*timeout_us))?;
                let a = u128::from(m.amount.minor());
                self.totals_mut(m.debit).debits_pending += a;
                self.totals_mut(m.credit).credits_pending += a;
                let expires_at_us = now + timeout_us;
                self.pending.push(MPending { id: id.clone(), movement: *m, expires_at_us });
                events.push(LedgerEvent::Reserved { id: id.clone(), movement: *m, expires_at_us });
                Ok(LedgerOutcome::Reserved { expires_at_us })
            }
            TransferBody::Post { pending, amount } => {
                let p = self.live_pending(pending)?;
                let reserved = p.movement.amount.minor();
                let posted = match amount {
                    None => reserved,
                    Some(a) if a.minor() == 0 => return Err(LedgerRejection::ZeroAmount),
                    Some(a) if a.minor() > reserved => {
                        return Err(LedgerRejection::ExceedsPending { pending: p.movement.amount });
                    }
                    Some(a) => a.minor(),
                };
                self.totals_mut(p.movement.debit).debits_posted += u128::from(posted);
                self.totals_mut(p.movement.credit).credits_posted += u128::from(posted);
                let e = self.end(pending, PendingEnd::Posted { by: id.clone() }, posted);
                events.push(e);
                let moved = Movement { amount: Money::from_minor(posted), ..p.movement };
                events.push(LedgerEvent::Moved { id: id.clone(), pending: Some(pending.clone()), movement: moved });
                Ok(LedgerOutcome::Posted {
                    amount: Money::from_minor(posted),
                    released: Money::from_minor(reserved - posted),
                })
            }
            TransferBody::Void { pending } => {
                let p = self.live_pending(pending)?;
                let e = self.end(pending, PendingEnd::Voided { by: id.clone() }, 0);
                events.push(e);
                Ok(LedgerOutcome::Voided { released: p.movement.amount })
            }
        }
    }
}

// ---------------------------------------------------------------------------
// One run: the core, the model, and the properties checked at every step
// ---------------------------------------------------------------------------

struct Run {
    core: Ledger,
    model: Model,
    /// Per pending id, how many times each of its lives (an id may be reused
    /// once forgotten) has ended; the last entry is the current life.
    lives: BTreeMap<TransferId, Vec<u32>>,
}

impl Run {
    fn new(limits: LedgerLimits) -> Self {
        Run { core: Ledger::with_limits(limits), model: Model::new(limits), lives: BTreeMap::new() }
    }

    fn drive(&mut self, input: &LedgerInput) -> Result<(), TestCaseError> {
        let applied = self.core.apply(input);
        let (outcome, events, changed) = self.model.apply(input);
        prop_assert_eq!(&applied.outcome, &outcome, "outcome of {:?}", input);
        prop_assert_eq!(&applied.events, &events, "events of {:?}", input);
        prop_assert_eq!(applied.changed, changed);
        self.follow_lives(&applied.events)?;
        self.check_books()?;

        // The same input again, at once: the same answer, and nothing changes.
        if let LedgerInput::Transfer { transfer, .. } = input {
            let mut again = self.core.clone();
            let repeat = LedgerInput::Transfer { at_us: self.core.last_at_us(), transfer: transfer.clone() };
            let second = again.apply(&repeat);
            prop_assert_eq!(&second.outcome, &applied.outcome, "a repeat answered differently");
            prop_assert!(second.events.is_empty(), "a repeat emitted {:?}", second.events);
            prop_assert!(again == self.core, "a repeat changed the ledger");
        }
        Ok(())
    }

    /// Each pending transfer ends exactly once, and only after it was reserved.
    fn follow_lives(&mut self, events: &[LedgerEvent]) -> Result<(), TestCaseError> {
        for e in events {
            match e {
                LedgerEvent::Reserved { id, .. } => {
                    let lives = self.lives.entry(id.clone()).or_default();
                    prop_assert!(lives.last().is_none_or(|ended| *ended == 1), "{:?} reserved while alive", id);
                    lives.push(0);
                }
                LedgerEvent::Ended { pending, posted, released, .. } => {
                    let life = self.lives.get_mut(pending).and_then(|l| l.last_mut());
                    prop_assert!(life.is_some(), "{:?} ended without being reserved", pending);
                    if let Some(ended) = life {
                        *ended += 1;
                        prop_assert_eq!(*ended, 1, "{:?} ended twice", pending);
                    }
                    prop_assert!(posted.checked_add(*released).is_some());
                }
                LedgerEvent::Moved { .. } => {}
            }
        }
        Ok(())
    }

    /// The model's books equal the core's, and the books balance.
    fn check_books(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.core.check_invariants(), Ok(()));
        let core: Vec<(AccountId, MTotals)> = self
            .core
            .accounts()
            .map(|(id, a)| {
                (
                    *id,
                    MTotals {
                        debits_posted: u128::from(a.debits_posted.minor()),
                        credits_posted: u128::from(a.credits_posted.minor()),
                        debits_pending: u128::from(a.debits_pending.minor()),
                        credits_pending: u128::from(a.credits_pending.minor()),
                    },
                )
            })
            .collect();
        let mut model = self.model.accounts.clone();
        model.sort_by_key(|(id, _)| *id);
        prop_assert_eq!(&core, &model);

        let mut sum: i128 = 0;
        for (id, t) in &core {
            let balance = t.credits_posted as i128 - t.debits_posted as i128;
            sum += balance;
            if *id != AccountId::World {
                prop_assert!(balance - t.debits_pending as i128 >= 0, "{:?} is overdrawn: {:?}", id, t);
            }
        }
        prop_assert_eq!(sum, 0, "money was created or lost");
        prop_assert_eq!(self.core.next_deadline_us(), self.model.deadline());
        prop_assert_eq!(self.core.pending_len(), self.model.pending.len());
        prop_assert_eq!(self.core.remembered_len(), self.model.records.len());
        Ok(())
    }

    /// Time runs out for every pending transfer: each life has ended once.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        let end = self.core.last_at_us().saturating_add(PENDING_TIMEOUT_MAX_US + 1);
        self.drive(&LedgerInput::Tick { at_us: end })?;
        prop_assert_eq!(self.core.pending_len(), 0);
        prop_assert_eq!(self.core.next_deadline_us(), None);
        for (id, lives) in &self.lives {
            prop_assert!(lives.iter().all(|ended| *ended == 1), "{:?}: {:?}", id, lives);
        }
        let bytes = postcard::to_allocvec(&self.core).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Ledger = postcard::from_bytes(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(back == self.core, "the snapshot does not round-trip");
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// How much a post asks for, against what the named pending transfer
/// (its latest body under that id) reserved.
#[derive(Clone, Copy, Debug)]
enum PostAmount {
    All,
    Reserved,
    OneLess,
    OneMore,
    Any(u64),
}

#[derive(Clone, Debug)]
enum Step {
    Single {
        dt: i64,
        id: u8,
        movement: Movement,
    },
    Pending {
        dt: i64,
        id: u8,
        movement: Movement,
        timeout_us: i64,
    },
    Post {
        dt: i64,
        id: u8,
        pending: u8,
        amount: PostAmount,
    },
    Void {
        dt: i64,
        id: u8,
        pending: u8,
    },
    Tick {
        dt: i64,
    },
    /// An earlier transfer again, now (`pick` chooses which).
    Repeat {
        dt: i64,
        pick: prop::sample::Index,
    },
}

fn account_strategy() -> impl Strategy<Value = AccountId> {
    prop_oneof![
        Just(AccountId::World),
        Just(AccountId::Clearing),
        Just(AccountId::Fees),
        (1..=BUYERS).prop_map(|u| AccountId::Wallet(UserId(u))),
        (1..=ORGANIZERS).prop_map(|u| AccountId::Payable(UserId(u))),
    ]
}

fn code_strategy() -> impl Strategy<Value = TransferCode> {
    prop::sample::select(vec![
        TransferCode::TopUp,
        TransferCode::Grant,
        TransferCode::GatewayPayment,
        TransferCode::WalletPayment,
        TransferCode::Settlement,
        TransferCode::Fee,
        TransferCode::Refund,
        TransferCode::GatewayRefund,
        TransferCode::Payout,
    ])
}

/// Mostly movements the code table allows (so money flows), some that it does not.
fn movement_strategy() -> impl Strategy<Value = Movement> {
    let buyer = (1..=BUYERS).prop_map(|u| AccountId::Wallet(UserId(u)));
    let organizer = (1..=ORGANIZERS).prop_map(|u| AccountId::Payable(UserId(u)));
    let amount = prop_oneof![1 => Just(0u64), 12 => 1u64..=300, 2 => 300u64..=5_000];
    let refs = (proptest::option::of((1u64..4, 1u64..20)), proptest::option::of(1u64..50))
        .prop_map(|(o, p)| TransferRefs { order: o.map(|(s, n)| OrderRef::new(s, n)), payment: p, actor: None });
    let plausible = prop_oneof![
        3 => buyer.clone().prop_map(|w| (TransferCode::TopUp, AccountId::World, w)),
        1 => buyer.clone().prop_map(|w| (TransferCode::Grant, AccountId::World, w)),
        1 => Just((TransferCode::GatewayPayment, AccountId::World, AccountId::Clearing)),
        4 => buyer.clone().prop_map(|w| (TransferCode::WalletPayment, w, AccountId::Clearing)),
        2 => organizer.clone().prop_map(|p| (TransferCode::Settlement, AccountId::Clearing, p)),
        1 => Just((TransferCode::Fee, AccountId::Clearing, AccountId::Fees)),
        1 => organizer.clone().prop_map(|p| (TransferCode::Fee, p, AccountId::Fees)),
        2 => buyer.clone().prop_map(|w| (TransferCode::Refund, AccountId::Clearing, w)),
        1 => (organizer.clone(), buyer).prop_map(|(p, w)| (TransferCode::Refund, p, w)),
        1 => Just((TransferCode::GatewayRefund, AccountId::Clearing, AccountId::World)),
        1 => organizer.prop_map(|p| (TransferCode::Payout, p, AccountId::World)),
    ];
    let any = (code_strategy(), account_strategy(), account_strategy());
    (prop_oneof![9 => plausible, 1 => any], amount, refs).prop_map(|((code, debit, credit), amount, refs)| Movement {
        debit,
        credit,
        amount: Money::from_minor(amount),
        code,
        refs,
    })
}

/// Mostly small steps; sometimes a jump past a timeout or the id TTL; rarely back.
fn dt_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        20 => 0i64..30,
        2 => 100i64..2_000,
        1 => Just(TRANSFER_ID_TTL_US / 2),
        1 => Just(TRANSFER_ID_TTL_US),
        1 => -30i64..0,
    ]
}

fn timeout_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => Just(0i64),
        6 => 1i64..60,
        2 => 500i64..5_000,
        1 => Just(PENDING_TIMEOUT_MAX_US),
        1 => Just(PENDING_TIMEOUT_MAX_US + 1),
    ]
}

/// A small pool of ids, so posts find their pending transfers and ids collide.
fn id_strategy() -> impl Strategy<Value = u8> {
    0u8..12
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (dt_strategy(), id_strategy(), movement_strategy())
            .prop_map(|(dt, id, movement)| Step::Single { dt, id, movement }),
        8 => (dt_strategy(), id_strategy(), movement_strategy(), timeout_strategy())
            .prop_map(|(dt, id, movement, timeout_us)| Step::Pending { dt, id, movement, timeout_us }),
        6 => (dt_strategy(), id_strategy(), id_strategy(), post_amount_strategy())
            .prop_map(|(dt, id, pending, amount)| Step::Post { dt, id, pending, amount }),
        3 => (dt_strategy(), id_strategy(), id_strategy()).prop_map(|(dt, id, pending)| Step::Void { dt, id, pending }),
        2 => dt_strategy().prop_map(|dt| Step::Tick { dt }),
        3 => (dt_strategy(), any::<prop::sample::Index>()).prop_map(|(dt, pick)| Step::Repeat { dt, pick }),
    ]
}

fn post_amount_strategy() -> impl Strategy<Value = PostAmount> {
    prop_oneof![
        4 => Just(PostAmount::All),
        1 => Just(PostAmount::Reserved),
        2 => Just(PostAmount::OneLess),
        1 => Just(PostAmount::OneMore),
        2 => (0u64..400).prop_map(PostAmount::Any),
    ]
}

fn limits_strategy() -> impl Strategy<Value = LedgerLimits> {
    prop_oneof![
        3 => (3usize..=9, 1usize..=5, 2usize..=24)
            .prop_map(|(accounts_max, pending_max, remembered_max)| LedgerLimits { accounts_max, pending_max, remembered_max }),
        1 => Just(LedgerLimits::DEFAULT),
    ]
}

/// Ids of both kinds share the pool: a post may name a single transfer, a
/// pending one may be posted by an id that is itself a pending transfer's.
fn name(n: u8) -> String {
    format!("t{n}")
}

fn inputs(steps: &[Step]) -> Vec<LedgerInput> {
    let mut clock = T0;
    let mut out: Vec<LedgerInput> = Vec::new();
    let mut reserved: BTreeMap<u8, u64> = BTreeMap::new();
    for s in steps {
        let dt = match s {
            Step::Single { dt, .. }
            | Step::Pending { dt, .. }
            | Step::Post { dt, .. }
            | Step::Void { dt, .. }
            | Step::Tick { dt }
            | Step::Repeat { dt, .. } => *dt,
        };
        clock += dt;
        let input = match s {
            Step::Single { id, movement, .. } => transfer(clock, &name(*id), TransferBody::Single(*movement)),
            Step::Pending { id, movement, timeout_us, .. } => {
                reserved.insert(*id, movement.amount.minor());
                transfer(clock, &name(*id), TransferBody::Pending { movement: *movement, timeout_us: *timeout_us })
            }
            Step::Post { id, pending, amount, .. } => {
                let r = reserved.get(pending).copied().unwrap_or(100);
                let amount = match amount {
                    PostAmount::All => None,
                    PostAmount::Reserved => Some(r),
                    PostAmount::OneLess => Some(r.saturating_sub(1)),
                    PostAmount::OneMore => Some(r + 1),
                    PostAmount::Any(a) => Some(*a),
                };
                let body = TransferBody::Post { pending: tid(&name(*pending)), amount: amount.map(Money::from_minor) };
                transfer(clock, &name(*id), body)
            }
            Step::Void { id, pending, .. } => {
                transfer(clock, &name(*id), TransferBody::Void { pending: tid(&name(*pending)) })
            }
            Step::Tick { .. } => LedgerInput::Tick { at_us: clock },
            Step::Repeat { pick, .. } => {
                let earlier: Vec<&Transfer> = out
                    .iter()
                    .filter_map(|i| match i {
                        LedgerInput::Transfer { transfer, .. } => Some(transfer),
                        LedgerInput::Tick { .. } => None,
                    })
                    .collect();
                if earlier.is_empty() {
                    continue;
                }
                let t = earlier[pick.index(earlier.len())].clone();
                LedgerInput::Transfer { at_us: clock, transfer: t }
            }
        };
        out.push(input);
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The core agrees with the model after every input; money is conserved,
    /// nothing but the world is overdrawn, each pending transfer ends exactly
    /// once, repeats change nothing, and the snapshot round-trips.
    #[test]
    fn ledger_matches_the_model(limits in limits_strategy(), steps in prop::collection::vec(step_strategy(), 1..150)) {
        let mut run = Run::new(limits);
        for input in inputs(&steps) {
            run.drive(&input)?;
        }
        run.finish()?;
    }

    /// Two ledgers fed the same inputs agree on everything, and so does a
    /// clone taken midway (what a snapshot restores).
    #[test]
    fn ledger_is_deterministic(
        steps in prop::collection::vec(step_strategy(), 1..80),
        split in any::<prop::sample::Index>(),
    ) {
        let inputs = inputs(&steps);
        let split = split.index(inputs.len() + 1);
        let (mut a, mut b) = (Ledger::new(), Ledger::new());
        let mut c = None;
        for (i, input) in inputs.iter().enumerate() {
            if i == split {
                c = Some(a.clone());
            }
            let applied = a.apply(input);
            prop_assert_eq!(&applied, &b.apply(input));
            if let Some(c) = &mut c {
                prop_assert_eq!(&applied, &c.apply(input));
            }
        }
        prop_assert!(a == b);
        if let Some(c) = c {
            prop_assert!(c == a);
        }
    }

    /// Ticks the ledger reports as unchanged can be left out of the log:
    /// replaying the rest gives the same answers and the same whole ledger
    /// after every logged input (what a snapshot taken there must equal).
    #[test]
    fn ledger_replays_without_unchanged_ticks(steps in prop::collection::vec(step_strategy(), 1..80)) {
        let mut last = i64::MIN;
        let mut live = Ledger::new();
        let mut logged = Vec::new();
        for input in inputs(&steps) {
            // Stamped in time order, as the engine stamps.
            last = last.max(input.at_us());
            let input = match input {
                LedgerInput::Tick { .. } => LedgerInput::Tick { at_us: last },
                LedgerInput::Transfer { transfer, .. } => LedgerInput::Transfer { at_us: last, transfer },
            };
            let applied = live.apply(&input);
            if applied.changed {
                logged.push((input, applied, live.clone()));
            }
        }
        let mut replayed = Ledger::new();
        for (i, (input, applied, after)) in logged.iter().enumerate() {
            prop_assert_eq!(&replayed.apply(input), applied, "logged input {}", i);
            prop_assert!(&replayed == after, "state after logged input {}", i);
        }
    }
}

// ---------------------------------------------------------------------------
// Examples: how the ledger is meant to be used
// ---------------------------------------------------------------------------

const BUYER: AccountId = AccountId::Wallet(UserId(7));
const ORGANIZER: AccountId = AccountId::Payable(UserId(99));

fn balance(ledger: &Ledger, a: AccountId) -> i128 {
    ledger.account(a).map_or(0, |a| a.balance())
}

fn available(ledger: &Ledger, a: AccountId) -> i128 {
    ledger.account(a).map_or(0, |a| a.available())
}

fn top_up(ledger: &mut Ledger, at_us: i64, id: &str, amount: u64) {
    let outcome = ledger.apply(&transfer(
        at_us,
        id,
        TransferBody::Single(movement(AccountId::World, BUYER, amount, TransferCode::TopUp)),
    ));
    assert_eq!(outcome.outcome, LedgerOutcome::Transferred);
}

fn reserve(at_us: i64, id: &str, amount: u64, timeout_us: i64) -> LedgerInput {
    let mut m = movement(BUYER, AccountId::Clearing, amount, TransferCode::WalletPayment);
    m.refs = TransferRefs { order: Some(OrderRef::new(3, 41)), payment: Some(1), actor: None };
    transfer(at_us, id, TransferBody::Pending { movement: m, timeout_us })
}

/// A wallet checkout: top up, reserve the order's price while the sale
/// confirms the hold, then post; the organizer is settled and the platform
/// takes its fee. Every step balances.
#[test]
fn a_wallet_checkout_moves_money_from_buyer_to_organizer() {
    let mut ledger = Ledger::new();
    top_up(&mut ledger, 10, "topup-1", 50_000);
    assert_eq!(balance(&ledger, BUYER), 50_000);
    assert_eq!(balance(&ledger, AccountId::World), -50_000, "the world is signed: it gave what the buyer has");

    let held = ledger.apply(&reserve(20, "hold:K7M-4QX2", 30_000, 600 * 1_000_000));
    assert_eq!(held.outcome, LedgerOutcome::Reserved { expires_at_us: 20 + 600 * 1_000_000 });
    assert_eq!(balance(&ledger, BUYER), 50_000, "reserved, not yet moved");
    assert_eq!(available(&ledger, BUYER), 20_000);
    assert_eq!(ledger.next_deadline_us(), Some(20 + 600 * 1_000_000));

    let post = TransferBody::Post { pending: tid("hold:K7M-4QX2"), amount: None };
    let posted = ledger.apply(&transfer(30, "pay:K7M-4QX2", post));
    assert_eq!(posted.outcome, LedgerOutcome::Posted { amount: Money::from_minor(30_000), released: Money::ZERO });
    assert_eq!(balance(&ledger, BUYER), 20_000);
    assert_eq!(balance(&ledger, AccountId::Clearing), 30_000);
    assert_eq!(ledger.next_deadline_us(), None);
    assert_eq!(ledger.pending_end(&tid("hold:K7M-4QX2")), Some(&PendingEnd::Posted { by: tid("pay:K7M-4QX2") }));
    assert!(matches!(ledger.recall(&tid("pay:K7M-4QX2")), Some((_, LedgerOutcome::Posted { .. }))));

    let settle = movement(AccountId::Clearing, ORGANIZER, 27_000, TransferCode::Settlement);
    ledger.apply(&transfer(40, "settle:K7M-4QX2", TransferBody::Single(settle)));
    let fee = movement(AccountId::Clearing, AccountId::Fees, 3_000, TransferCode::Fee);
    ledger.apply(&transfer(40, "fee:K7M-4QX2", TransferBody::Single(fee)));
    assert_eq!(balance(&ledger, ORGANIZER), 27_000);
    assert_eq!(balance(&ledger, AccountId::Fees), 3_000);
    assert_eq!(balance(&ledger, AccountId::Clearing), 0);
    assert_eq!(ledger.check_invariants(), Ok(()));
}

/// Posting less than was reserved moves that much and releases the rest.
#[test]
fn a_partial_post_releases_the_rest() {
    let mut ledger = Ledger::new();
    top_up(&mut ledger, 10, "topup-1", 10_000);
    ledger.apply(&reserve(20, "hold", 8_000, 1_000));
    let post = TransferBody::Post { pending: tid("hold"), amount: Some(Money::from_minor(5_000)) };
    let applied = ledger.apply(&transfer(30, "post", post));
    assert_eq!(
        applied.outcome,
        LedgerOutcome::Posted { amount: Money::from_minor(5_000), released: Money::from_minor(3_000) }
    );
    assert_eq!(balance(&ledger, BUYER), 5_000);
    assert_eq!(available(&ledger, BUYER), 5_000);
    let over = TransferBody::Post { pending: tid("hold"), amount: None };
    assert_eq!(
        ledger.apply(&transfer(31, "post-again", over)).outcome,
        LedgerOutcome::Rejected(LedgerRejection::AlreadyPosted)
    );
}

/// A reservation nobody posts is voided by the tick at its expiry, exactly
/// then; a late post is refused and the money is back.
#[test]
fn a_pending_transfer_times_out_at_its_expiry() {
    let mut ledger = Ledger::new();
    top_up(&mut ledger, 10, "topup-1", 1_000);
    ledger.apply(&reserve(100, "hold", 1_000, 50));
    assert_eq!(ledger.next_deadline_us(), Some(150));
    let early = ledger.apply(&LedgerInput::Tick { at_us: 149 });
    assert!(!early.changed);
    assert_eq!(available(&ledger, BUYER), 0);
    let due = ledger.apply(&LedgerInput::Tick { at_us: 150 });
    assert_eq!(
        due.events,
        vec![LedgerEvent::Ended {
            pending: tid("hold"),
            end: PendingEnd::Expired,
            posted: Money::ZERO,
            released: Money::from_minor(1_000)
        }]
    );
    assert_eq!(available(&ledger, BUYER), 1_000);
    let post = TransferBody::Post { pending: tid("hold"), amount: None };
    assert_eq!(
        ledger.apply(&transfer(151, "post", post)).outcome,
        LedgerOutcome::Rejected(LedgerRejection::PendingExpired)
    );
}

/// Reserved money is not available twice.
#[test]
fn insufficient_funds_counts_what_is_reserved() {
    let mut ledger = Ledger::new();
    top_up(&mut ledger, 10, "topup-1", 1_000);
    ledger.apply(&reserve(20, "hold-a", 700, 1_000));
    assert_eq!(
        ledger.apply(&reserve(21, "hold-b", 400, 1_000)).outcome,
        LedgerOutcome::Rejected(LedgerRejection::InsufficientFunds { available: Money::from_minor(300) })
    );
    let spend = movement(BUYER, AccountId::Clearing, 301, TransferCode::WalletPayment);
    assert_eq!(
        ledger.apply(&transfer(22, "pay", TransferBody::Single(spend))).outcome,
        LedgerOutcome::Rejected(LedgerRejection::InsufficientFunds { available: Money::from_minor(300) })
    );
}

/// A retried transfer returns its first answer and moves nothing again; the
/// same id with another body is refused.
#[test]
fn a_transfer_id_is_idempotent() {
    let mut ledger = Ledger::new();
    let body = TransferBody::Single(movement(AccountId::World, BUYER, 500, TransferCode::TopUp));
    let first = ledger.apply(&transfer(10, "topup-1", body.clone()));
    let again = ledger.apply(&transfer(20, "topup-1", body));
    assert_eq!(first.outcome, again.outcome);
    assert!(again.events.is_empty());
    assert_eq!(balance(&ledger, BUYER), 500);
    let other = TransferBody::Single(movement(AccountId::World, BUYER, 600, TransferCode::TopUp));
    assert_eq!(
        ledger.apply(&transfer(30, "topup-1", other)).outcome,
        LedgerOutcome::Rejected(LedgerRejection::IdReused)
    );
    assert_eq!(balance(&ledger, BUYER), 500);
}

/// An admin's grant and a gateway top-up both bring money in, under codes of
/// their own; no code lets a wallet pay the world or mint money.
#[test]
fn codes_tell_grants_from_top_ups_and_fence_the_world() {
    let mut ledger = Ledger::new();
    let mut grant = movement(AccountId::World, BUYER, 1_000, TransferCode::Grant);
    grant.refs.actor = Some(UserId(1));
    let applied = ledger.apply(&transfer(10, "grant-1", TransferBody::Single(grant)));
    assert_eq!(applied.events, vec![LedgerEvent::Moved { id: tid("grant-1"), pending: None, movement: grant }]);
    for (debit, credit, code) in [
        (BUYER, AccountId::World, TransferCode::Payout),
        (AccountId::World, AccountId::Clearing, TransferCode::TopUp),
        (AccountId::Clearing, BUYER, TransferCode::Grant),
        (BUYER, AccountId::Wallet(UserId(8)), TransferCode::Refund),
    ] {
        let body = TransferBody::Single(movement(debit, credit, 1, code));
        assert_eq!(
            ledger.apply(&transfer(20, &format!("{code:?}-{debit:?}"), body)).outcome,
            LedgerOutcome::Rejected(LedgerRejection::CodeNotAllowed),
            "{code:?} {debit:?} -> {credit:?}"
        );
    }
}

/// A total that would not fit is refused, never wrapped.
#[test]
fn overflow_is_a_rejection() {
    let mut ledger = Ledger::new();
    top_up(&mut ledger, 10, "a", u64::MAX);
    let body = TransferBody::Single(movement(AccountId::World, AccountId::Wallet(UserId(8)), 1, TransferCode::TopUp));
    assert_eq!(ledger.apply(&transfer(20, "b", body)).outcome, LedgerOutcome::Rejected(LedgerRejection::Overflow));
    assert_eq!(ledger.check_invariants(), Ok(()));
}

/// Past a bound the ledger refuses, and does not remember the refusal: the
/// same transfer gets through once there is room.
#[test]
fn lack_of_room_is_refused_and_retryable() {
    let mut ledger = Ledger::with_limits(LedgerLimits { accounts_max: 10, pending_max: 1, remembered_max: 100 });
    top_up(&mut ledger, 10, "topup-1", 1_000);
    ledger.apply(&reserve(20, "hold-a", 100, 1_000));
    assert_eq!(
        ledger.apply(&reserve(21, "hold-b", 100, 1_000)).outcome,
        LedgerOutcome::Rejected(LedgerRejection::TooManyPending { max: 1 })
    );
    ledger.apply(&transfer(22, "void-a", TransferBody::Void { pending: tid("hold-a") }));
    assert_eq!(
        ledger.apply(&reserve(23, "hold-b", 100, 1_000)).outcome,
        LedgerOutcome::Reserved { expires_at_us: 1_023 }
    );

    let mut full = Ledger::with_limits(LedgerLimits { accounts_max: 4, pending_max: 1, remembered_max: 100 });
    top_up(&mut full, 10, "topup-1", 1_000);
    let second = TransferBody::Single(movement(AccountId::World, AccountId::Wallet(UserId(8)), 1, TransferCode::TopUp));
    assert_eq!(
        full.apply(&transfer(20, "topup-2", second)).outcome,
        LedgerOutcome::Rejected(LedgerRejection::TooManyAccounts { max: 4 })
    );
}
