//! Rebuilding the ledger from its stream, and checking the stream end to end,
//! as [`crate::replay`] does for a sale: recovery starts from the newest
//! usable snapshot (its books must balance) and replays the entries after
//! it; an audit ignores snapshots, replays every entry from the first,
//! checks each link of the hash chain, that every recorded outcome is the
//! one the rules give, the books every so often and at the end, and the
//! newest snapshot against the replayed state at its seq.
//!
//! A snapshot holds the ledger and the ids of the transfers it remembers
//! ([`LedgerSnapshot`]): the core answers for an id but cannot list them,
//! and the engine's published read side must start with every one. The list
//! is the snapshot's list plus every id replayed since, less what the core
//! has forgotten, so it is exact by induction from the first entry.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use stampede_core::{Ledger, LedgerInput, TransferId};
use stampede_log::{ChainTip, CommandLog, Entry, LogError};

use super::{LEDGER_SNAPSHOT_TAG, LEDGER_STREAM};
use crate::record::RecordError;
use crate::record::ledger::{LedgerOutcomeV1, LedgerRecord};
use crate::replay::{AUDIT_RECOUNT_EVERY, AuditFailure, ReplayError, check_snapshot_marks};

/// The ledger rebuilt from the log, ready to take new inputs.
pub struct LedgerRecovered {
    pub ledger: Ledger,
    /// Every transfer id the ledger remembers, in order.
    pub transfer_ids: Vec<TransferId>,
    pub tip: ChainTip,
    pub replayed: u64,
    pub from_snapshot_seq: Option<u64>,
}

/// What an audit of the ledger stream found.
#[derive(Debug)]
pub struct LedgerAudit {
    pub entries: u64,
    pub snapshot_checked: Option<u64>,
    pub final_state: Ledger,
}

/// What a ledger snapshot holds (postcard, tagged [`LEDGER_SNAPSHOT_TAG`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerSnapshot {
    pub ledger: Ledger,
    /// The ids the ledger remembers, ascending.
    pub transfer_ids: Vec<TransferId>,
}

/// Ids replayed before the known set is pruned to what the core remembers.
const KNOWN_PRUNE_EVERY: u64 = 65_536;
/// Feeds entries one by one into the ledger, checking the chain and outcomes.
struct Replayer {
    ledger: Option<Ledger>,
    /// A superset of the ids the ledger remembers (pruned now and then).
    known: BTreeSet<TransferId>,
    tip: ChainTip,
    replayed: u64,
    check_invariants: bool,
    recounted_at: u64,
}

const ID: u64 = LEDGER_STREAM;

impl Replayer {
    fn new(check_invariants: bool) -> Self {
        Replayer {
            ledger: None,
            known: BTreeSet::new(),
            tip: ChainTip::genesis(ID),
            replayed: 0,
            check_invariants,
            recounted_at: 0,
        }
    }

    fn resume(&mut self, snapshot: LedgerSnapshot, tip: ChainTip) {
        self.ledger = Some(snapshot.ledger);
        self.known = snapshot.transfer_ids.into_iter().collect();
        self.tip = tip;
    }

    /// The ids the ledger remembers now, ascending.
    fn transfer_ids(&self) -> Vec<TransferId> {
        let Some(ledger) = &self.ledger else { return Vec::new() };
        self.known.iter().filter(|id| ledger.recall(id).is_some()).cloned().collect()
    }

    fn finish(self) -> Option<LedgerSnapshot> {
        let transfer_ids = self.transfer_ids();
        self.ledger.map(|ledger| LedgerSnapshot { ledger, transfer_ids })
    }

    fn feed(&mut self, entry: &Entry) -> Result<(), ReplayError> {
        self.tip.accept(entry)?;
        let seq = entry.seq;
        let record_err = |source| ReplayError::Record { sale: ID, seq, source };
        let record = LedgerRecord::decode(&entry.payload).map_err(record_err)?;
        let Some(ledger) = &mut self.ledger else {
            // The first record opens the ledger with its bounds, and only it does.
            let limits = record.limits().map_err(record_err)?.ok_or(record_err(RecordError::Misplaced))?;
            self.ledger = Some(Ledger::with_limits(limits));
            self.replayed += 1;
            return Ok(());
        };
        let (input, recorded) =
            record.to_input(entry.at_us).map_err(record_err)?.ok_or(record_err(RecordError::Misplaced))?;
        let applied = ledger.apply(&input);
        if let LedgerInput::Transfer { transfer, .. } = &input {
            self.known.insert(transfer.id.clone());
        }
        if seq.is_multiple_of(KNOWN_PRUNE_EVERY) {
            self.known.retain(|id| ledger.recall(id).is_some());
        }
        if let Some(recorded) = recorded {
            let replayed = LedgerOutcomeV1::from(&applied.outcome);
            if &replayed != recorded {
                return Err(ReplayError::Diverged {
                    sale: ID,
                    seq,
                    recorded: format!("{recorded:?}"),
                    replayed: format!("{replayed:?}"),
                });
            }
        }
        if matches!(input, LedgerInput::Tick { .. }) && !applied.changed {
            tracing::debug!(seq, "logged ledger tick changed nothing");
        }
        // The stride grows with the log, so recounts stay linear overall (see `crate::replay`).
        if self.check_invariants && seq.saturating_sub(self.recounted_at) >= AUDIT_RECOUNT_EVERY.max(seq / 4) {
            self.recounted_at = seq;
            ledger.check_invariants().map_err(|problem| ReplayError::Invariant { sale: ID, seq, problem })?;
        }
        self.replayed += 1;
        Ok(())
    }
}

/// Replays entries `from_seq..=last` (those the log has).
fn run_between(log: &mut dyn CommandLog, r: &mut Replayer, from_seq: u64, last: u64) -> Result<(), ReplayError> {
    let mut failure: Option<ReplayError> = None;
    let mut reached_last = false;
    let result = log.replay(ID, from_seq, &mut |entry| {
        if entry.seq > last {
            reached_last = true;
            return Err(LogError::Visitor("stop".into()));
        }
        r.feed(&entry).map_err(|e| {
            let message = e.to_string();
            failure = Some(e);
            LogError::Visitor(message.into())
        })
    });
    match (failure, result) {
        (Some(e), _) => Err(e),
        (None, Err(LogError::Visitor(_))) if reached_last => Ok(()),
        (None, Err(e)) => Err(e.into()),
        (None, Ok(())) => Ok(()),
    }
}

fn decode_snapshot(state: &[u8]) -> Result<LedgerSnapshot, String> {
    let snapshot: LedgerSnapshot = postcard::from_bytes(state).map_err(|e| e.to_string())?;
    snapshot.ledger.check_invariants().map_err(|problem| format!("its books do not balance: {problem}"))?;
    Ok(snapshot)
}

/// Encodes a ledger snapshot.
pub fn encode_snapshot(snapshot: &LedgerSnapshot) -> Option<Vec<u8>> {
    postcard::to_allocvec(snapshot).ok()
}

/// Rebuilds the ledger for serving: refuses a log whose snapshots are not its
/// own entries, then the newest snapshot whose books balance (else none) and
/// the entries after it. `None` when the log has no ledger stream yet.
pub fn recover(log: &mut dyn CommandLog) -> Result<Option<LedgerRecovered>, ReplayError> {
    check_snapshot_marks(log, ID)?;
    recover_through(log, u64::MAX)
}

/// The ledger as it was right after entry `seq`, from the newest snapshot
/// before it and the entries up to it (how the snapshot thread builds one);
/// `None` when the log does not hold that entry.
pub fn state_at(log: &mut dyn CommandLog, seq: u64) -> Result<Option<(LedgerSnapshot, ChainTip)>, ReplayError> {
    Ok(recover_through(log, seq)?
        .filter(|r| r.tip.next_seq == seq + 1)
        .map(|r| (LedgerSnapshot { ledger: r.ledger, transfer_ids: r.transfer_ids }, r.tip)))
}

fn recovered(r: Replayer, from_snapshot_seq: Option<u64>) -> Option<LedgerRecovered> {
    let (tip, replayed) = (r.tip.clone(), r.replayed);
    r.finish().map(|s| LedgerRecovered {
        ledger: s.ledger,
        transfer_ids: s.transfer_ids,
        tip,
        replayed,
        from_snapshot_seq,
    })
}

fn recover_through(log: &mut dyn CommandLog, last: u64) -> Result<Option<LedgerRecovered>, ReplayError> {
    if let Some(snap) = log.latest_snapshot(ID)?
        && snap.format == LEDGER_SNAPSHOT_TAG
        && snap.seq <= last
    {
        match decode_snapshot(&snap.state) {
            Ok(snapshot) => {
                let mut r = Replayer::new(false);
                r.resume(snapshot, snap.tip());
                run_between(log, &mut r, snap.seq + 1, last)?;
                return Ok(recovered(r, Some(snap.seq)));
            }
            Err(e) => tracing::warn!(error = %e, "ledger snapshot not usable; replaying the whole ledger"),
        }
    }
    let mut r = Replayer::new(false);
    run_between(log, &mut r, 0, last)?;
    Ok(recovered(r, None))
}

/// Replays the ledger stream from its first entry with every check on (see
/// the module doc). An empty stream is an intact, empty ledger.
pub fn audit(log: &mut dyn CommandLog) -> Result<LedgerAudit, AuditFailure> {
    let mut chain = ChainTip::genesis(ID);
    log.replay(ID, 0, &mut |entry| chain.accept(&entry))
        .map_err(|e| AuditFailure { checked: chain.next_seq, source: e.into() })?;
    let mut r = Replayer::new(true);
    audit_outcomes(log, &mut r).map_err(|source| AuditFailure { checked: r.replayed, source })
}

fn audit_outcomes(log: &mut dyn CommandLog, r: &mut Replayer) -> Result<LedgerAudit, ReplayError> {
    let mut snapshot_checked = None;
    if let Some(snap) = log.latest_snapshot(ID)?.filter(|s| s.format == LEDGER_SNAPSHOT_TAG) {
        run_between(log, r, 0, snap.seq)?;
        let mismatch = || ReplayError::SnapshotMismatch { sale: ID, seq: snap.seq };
        let stored: LedgerSnapshot = postcard::from_bytes(&snap.state).map_err(|_| mismatch())?;
        let replayed = r.ledger.as_ref().map(|ledger| (ledger, r.transfer_ids()));
        if replayed.as_ref().map(|(l, ids)| (*l, ids)) != Some((&stored.ledger, &stored.transfer_ids))
            || snap.hash != r.tip.last_hash
        {
            return Err(mismatch());
        }
        snapshot_checked = Some(snap.seq);
    }
    let from = r.tip.next_seq;
    run_between(log, r, from, u64::MAX)?;
    let final_state = r.ledger.take().unwrap_or_default();
    final_state.check_invariants().map_err(|problem| ReplayError::Invariant {
        sale: ID,
        seq: r.tip.next_seq.saturating_sub(1),
        problem,
    })?;
    Ok(LedgerAudit { entries: r.replayed, snapshot_checked, final_state })
}
