//! The platform's money ledger as a stream of the command log, run the way a
//! sale is run (issue 13, MISSION B11: money "in the same durable,
//! hash-chained log as everything else").
//!
//! Stream [`LEDGER_STREAM`] (0; sales are numbered from 1) holds the ledger's
//! records ([`crate::record::ledger`]). One task ([`task`]) is the ledger's
//! single writer: it stamps each transfer with the time, applies it with the
//! pure core ([`stampede_core::Ledger`]), chains the record and hands the
//! batch to the same group-commit writer thread as the sales; a transfer is
//! answered only once durable, and the task ticks at the core's
//! `next_deadline_us` so pending transfers time out by themselves. On start
//! the ledger is rebuilt from the log ([`replay`]: newest snapshot, then the
//! entries since) and audited like a sale. Reads ([`DurableLedger`]) take
//! what the task published after each durable batch, never the mailbox.
//!
//! The stream names wallets by account, so it is never published as a sale's
//! public log is; everything that lists the log's streams skips it
//! ([`is_ledger_stream`]) or checks it with [`replay::audit`].

pub mod replay;
pub(crate) mod task;

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::RwLock;
use stampede_core::{
    Account, AccountId, LEDGER_SNAPSHOT_FORMAT, Ledger, LedgerEvent, LedgerInput, LedgerLimits, LedgerOutcome,
    PendingEnd, TransferBody, TransferId,
};
use stampede_log::{ChainTip, Entry, SaleId};

use crate::record::ledger::LedgerRecord;

/// The log stream that holds the platform ledger.
pub const LEDGER_STREAM: SaleId = 0;

/// Whether a stream of the log is the ledger rather than a sale.
pub fn is_ledger_stream(id: SaleId) -> bool {
    id == LEDGER_STREAM
}

/// The snapshot format tag of the ledger's snapshots: "LG" and the core's
/// [`LEDGER_SNAPSHOT_FORMAT`], apart from any sale snapshot format, so a
/// snapshot is never decoded as the wrong state.
pub const LEDGER_SNAPSHOT_TAG: u32 = 0x4c47_0000 | LEDGER_SNAPSHOT_FORMAT;

/// A transfer's durable answer and where the log has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerAcked {
    pub outcome: LedgerOutcome,
    /// The entry's seq in the ledger stream.
    pub seq: u64,
    /// The time the engine stamped on it.
    pub at_us: i64,
}

/// What one input decided (the ledger's [`crate::step::Decided`]).
pub struct LedgerDecided {
    pub outcome: LedgerOutcome,
    pub events: Vec<LedgerEvent>,
    /// The entries to append: none for a tick that changed nothing; the
    /// stream's `open` record first when this is its first entry.
    pub entries: Vec<Entry>,
}

/// Applies `input` to the ledger and chains its record (with the outcome)
/// onto `tip`, unless it is a tick that changed nothing. The stream's first
/// logged input is preceded by its `open` record, so a ledger nobody used
/// writes nothing to the log.
pub fn decide(ledger: &mut Ledger, tip: &mut ChainTip, input: &LedgerInput) -> LedgerDecided {
    let applied = ledger.apply(input);
    let mut entries = Vec::new();
    if applied.changed || matches!(input, LedgerInput::Transfer { .. }) {
        let at_us = input.at_us();
        if tip.next_seq == 0 {
            entries.push(tip.append(at_us, LedgerRecord::open(ledger.limits()).encode()));
        }
        entries.push(tip.append(at_us, LedgerRecord::from_input(input, &applied.outcome).encode()));
    }
    LedgerDecided { outcome: applied.outcome, events: applied.events, entries }
}

/// A remembered transfer as readers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferState {
    pub body: TransferBody,
    /// Its first answer.
    pub outcome: LedgerOutcome,
    /// How a pending transfer ended; `None` while it lives (or for any other).
    pub end: Option<PendingEnd>,
    /// When it was last touched: applied, or for a pending transfer that
    /// ended, when it ended (what a statement dates it by).
    pub at_us: i64,
}

impl TransferState {
    /// The state the ledger remembers for `id`, if it does.
    pub fn of(ledger: &Ledger, id: &TransferId) -> Option<Self> {
        let (body, outcome) = ledger.recall(id)?;
        Some(TransferState {
            body: body.clone(),
            outcome: outcome.clone(),
            end: ledger.pending_end(id).cloned(),
            at_us: ledger.touched_at_us(id)?,
        })
    }

    /// The accounts a transfer names: a single or pending transfer's two; a
    /// post or void names only its pending transfer.
    pub fn accounts(&self) -> Option<(AccountId, AccountId)> {
        match &self.body {
            TransferBody::Single(m) | TransferBody::Pending { movement: m, .. } => Some((m.debit, m.credit)),
            TransferBody::Post { .. } | TransferBody::Void { .. } => None,
        }
    }

    /// A pending transfer that reserved its amount and has not ended.
    pub fn is_live_pending(&self) -> bool {
        matches!(self.body, TransferBody::Pending { .. })
            && matches!(self.outcome, LedgerOutcome::Reserved { .. })
            && self.end.is_none()
    }
}

/// Most lines a statement read returns, whatever the caller asks.
pub const STATEMENT_LEN_MAX: usize = 200;

/// Where the ledger stands as of its newest durable batch (a watch): what a
/// read waits on when the clock has passed a pending transfer's timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerStatus {
    /// Entries in the ledger stream.
    pub entries: u64,
    /// The time of the newest input applied.
    pub at_us: i64,
    /// The next pending transfer's timeout: once the clock has passed it,
    /// the published balances are stale until the tick that applies it is durable.
    pub next_deadline_us: Option<i64>,
}

impl LedgerStatus {
    pub fn of(ledger: &Ledger, tip: &ChainTip) -> Self {
        LedgerStatus { entries: tip.next_seq, at_us: ledger.last_at_us(), next_deadline_us: ledger.next_deadline_us() }
    }
}

/// What changed in one batch, handed to [`DurableLedger::update`] once durable.
#[derive(Debug, Default)]
pub(crate) struct LedgerChanges {
    pub accounts: Vec<(AccountId, Account)>,
    /// `None`: the ledger no longer remembers the id.
    pub transfers: Vec<(TransferId, Option<TransferState>)>,
}

#[derive(Debug, Default)]
struct Books {
    accounts: BTreeMap<AccountId, Account>,
    transfers: BTreeMap<TransferId, TransferState>,
    /// The single and pending transfers naming each account (as debit or
    /// credit), for statements: the core can answer for an id, not list an
    /// account's. As bounded as `transfers`, which it indexes.
    by_account: BTreeMap<AccountId, BTreeSet<TransferId>>,
}

impl Books {
    fn insert(&mut self, id: TransferId, state: TransferState) {
        if let Some((debit, credit)) = state.accounts() {
            for a in [debit, credit] {
                self.by_account.entry(a).or_default().insert(id.clone());
            }
        }
        self.transfers.insert(id, state);
    }

    fn remove(&mut self, id: &TransferId) {
        let Some(state) = self.transfers.remove(id) else { return };
        if let Some((debit, credit)) = state.accounts() {
            for a in [debit, credit] {
                if let Some(ids) = self.by_account.get_mut(&a) {
                    ids.remove(id);
                    if ids.is_empty() {
                        self.by_account.remove(&a);
                    }
                }
            }
        }
    }
}

/// The ledger's balances and remembered transfers as durable: updated by the
/// ledger task after each durable batch, before its answers leave, with only
/// what the batch changed. Never ahead of the log.
#[derive(Debug, Default)]
pub struct DurableLedger {
    books: RwLock<Books>,
}

impl DurableLedger {
    /// Everything the ledger holds, as rebuilt at start; `transfer_ids` are
    /// the ids it remembers ([`replay::LedgerRecovered::transfer_ids`]: the
    /// core can answer for an id but not list them).
    pub(crate) fn of(ledger: &Ledger, transfer_ids: &[TransferId]) -> Self {
        let mut books = Books { accounts: ledger.accounts().map(|(id, a)| (*id, *a)).collect(), ..Books::default() };
        for id in transfer_ids {
            if let Some(state) = TransferState::of(ledger, id) {
                books.insert(id.clone(), state);
            }
        }
        DurableLedger { books: RwLock::new(books) }
    }

    pub(crate) fn update(&self, changes: LedgerChanges) {
        let mut books = self.books.write();
        for (id, account) in changes.accounts {
            books.accounts.insert(id, account);
        }
        for (id, state) in changes.transfers {
            match state {
                Some(s) => books.insert(id, s),
                None => books.remove(&id),
            }
        }
    }

    pub fn account(&self, id: AccountId) -> Option<Account> {
        self.books.read().accounts.get(&id).copied()
    }

    /// Every account, in `AccountId` order.
    pub fn accounts(&self) -> Vec<(AccountId, Account)> {
        self.books.read().accounts.iter().map(|(id, a)| (*id, *a)).collect()
    }

    pub fn transfer(&self, id: &TransferId) -> Option<TransferState> {
        self.books.read().transfers.get(id).cloned()
    }

    /// How many transfer ids are remembered.
    pub fn transfers_len(&self) -> usize {
        self.books.read().transfers.len()
    }

    /// The remembered single and pending transfers that debit or credit
    /// `account`, newest first (by [`TransferState::at_us`], then id), at
    /// most `limit` (itself at most [`STATEMENT_LEN_MAX`]).
    pub fn statement(&self, account: AccountId, limit: usize) -> Vec<(TransferId, TransferState)> {
        let books = self.books.read();
        let Some(ids) = books.by_account.get(&account) else { return Vec::new() };
        let mut lines: Vec<_> =
            ids.iter().filter_map(|id| Some((id.clone(), books.transfers.get(id)?.clone()))).collect();
        lines.sort_by(|(a_id, a), (b_id, b)| b.at_us.cmp(&a.at_us).then_with(|| b_id.cmp(a_id)));
        lines.truncate(limit.min(STATEMENT_LEN_MAX));
        lines
    }

    /// The remembered transfers whose id starts with `prefix`, in id order,
    /// at most `limit`: how a saga finds its own transfers (`pay:`) again.
    pub fn with_prefix(&self, prefix: &str, limit: usize) -> Vec<(TransferId, TransferState)> {
        let books = self.books.read();
        let from = std::ops::Bound::Included(prefix);
        books
            .transfers
            .range::<str, _>((from, std::ops::Bound::Unbounded))
            .take_while(|(id, _)| id.as_str().starts_with(prefix))
            .take(limit)
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect()
    }
}

/// A fresh ledger with these bounds, before its stream has any entry.
pub fn fresh(limits: LedgerLimits) -> (Ledger, ChainTip) {
    (Ledger::with_limits(limits), ChainTip::genesis(LEDGER_STREAM))
}
