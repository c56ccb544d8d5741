//! Rebuilding a sale from its log, and checking a log end to end.
//!
//! Recovery starts from the newest usable snapshot and replays the entries
//! after it; verification ignores snapshots, replays every entry from the
//! start, checks each link of the hash chain, checks that every recorded
//! outcome is the one the rules give, and compares the result with the
//! snapshots it passes.

use stampede_core::{Action, Event, Input, SNAPSHOT_FORMAT, Sale};
use stampede_log::{ChainTip, CommandLog, Entry, LogError, SaleId};

use crate::events::EntryEvents;
use crate::persons::{PersonKey, Unsealer};
use crate::record::{OutcomeV1, Persons, RECORD_VERSION, Record, RecordError, is_sealed};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("sale {sale} seq {seq}: {source}")]
    Record { sale: SaleId, seq: u64, source: RecordError },
    #[error("sale {sale} seq {seq}: the rules give `{replayed}` but the log recorded `{recorded}`")]
    Diverged { sale: SaleId, seq: u64, recorded: String, replayed: String },
    #[error("sale {sale} seq {seq}: {problem}")]
    Invariant { sale: SaleId, seq: u64, problem: String },
    /// The `create` record holds terms the API refuses and the rules cannot keep.
    #[error("sale {sale} seq {seq}: the sale's terms cannot be kept: {problem}")]
    BadTerms { sale: SaleId, seq: u64, problem: stampede_core::TermsProblem },
    #[error("sale {sale} has no entries")]
    Empty { sale: SaleId },
    /// Serving (or deriving events for) a sale whose people are sealed needs
    /// the server's key: without it, its state would name pseudonyms.
    #[error("sale {sale} names people by pseudonym and this replay was given no key to read them")]
    Sealed { sale: SaleId },
    #[error("sale {sale}: snapshot at seq {seq} differs from the replayed state")]
    SnapshotMismatch { sale: SaleId, seq: u64 },
    /// A snapshot is only ever written for an entry of the log, so the log was
    /// changed (or copied inconsistently) after it was taken.
    #[error(
        "sale {sale}: the log's entry {seq} {} the snapshot taken at it; the log was changed after the snapshot \
         (run `stampede verify`)",
        if *.missing { "is missing, unlike" } else { "differs from" }
    )]
    SnapshotNotInLog { sale: SaleId, seq: u64, missing: bool },
}

/// A failed audit, with how far it got.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct AuditFailure {
    /// Entries checked and found right before the failure.
    pub checked: u64,
    pub source: ReplayError,
}

/// Fewest entries between two full invariant recounts during an audit (the
/// gap also grows to a quarter of the entries so far).
pub const AUDIT_RECOUNT_EVERY: u64 = 4096;

/// A sale rebuilt from the log, ready to take new inputs.
pub struct Recovered {
    pub sale: Sale,
    pub tip: ChainTip,
    pub replayed: u64,
    pub from_snapshot_seq: Option<u64>,
    /// Its records name people by pseudonym ([`crate::persons`]).
    pub sealed: bool,
    /// Its records' version (its `create` record's), which the sale keeps writing.
    pub record_version: u16,
}

/// How a replay reads people in a sealed sale.
#[derive(Clone, Debug)]
enum Reading {
    /// Unseal with the key; without one, refuse a sealed sale (serving).
    Accounts(Option<PersonKey>),
    /// Unseal with the key if there is one, else replay on pseudonyms
    /// (auditing: a published log's verifier has no key).
    AsFound(Option<PersonKey>),
}

/// Feeds entries one by one into a sale, checking the chain and the outcomes.
struct Replayer {
    id: SaleId,
    sale: Option<Sale>,
    tip: ChainTip,
    replayed: u64,
    check_invariants: bool,
    reading: Reading,
    /// The sale's record version, from its `create` record.
    version: u16,
    /// Set when the sale is sealed and the key is known.
    seal: Option<Unsealer>,
    /// The seq of the last invariant recount.
    recounted_at: u64,
}

impl Replayer {
    fn new(id: SaleId, check_invariants: bool, reading: Reading) -> Self {
        Replayer {
            id,
            sale: None,
            tip: ChainTip::genesis(id),
            replayed: 0,
            check_invariants,
            reading,
            version: RECORD_VERSION,
            seal: None,
            recounted_at: 0,
        }
    }

    /// Continues from a snapshot of a sale whose `create` record is `first`.
    fn resume(&mut self, sale: Sale, tip: ChainTip, first: Option<&Entry>) -> Result<(), ReplayError> {
        let version = match first {
            Some(e) => Record::decode(&e.payload)
                .map_err(|source| ReplayError::Record { sale: self.id, seq: 0, source })?
                .version(),
            None => RECORD_VERSION,
        };
        self.start(version)?;
        self.sale = Some(sale);
        self.tip = tip;
        Ok(())
    }

    /// Learns the sale's record version and how to read its people.
    fn start(&mut self, version: u16) -> Result<(), ReplayError> {
        self.version = version;
        if !is_sealed(version) {
            return Ok(());
        }
        match &self.reading {
            Reading::Accounts(Some(key)) | Reading::AsFound(Some(key)) => {
                self.seal = Some(Unsealer::new(key.sale(self.id)));
            }
            Reading::Accounts(None) => return Err(ReplayError::Sealed { sale: self.id }),
            Reading::AsFound(None) => {}
        }
        Ok(())
    }

    /// Replaying pseudonyms with no key: proofs of work cannot be checked.
    fn on_pseudonyms(&self) -> bool {
        is_sealed(self.version) && self.seal.is_none()
    }

    fn feed(&mut self, entry: &Entry) -> Result<(), ReplayError> {
        self.feed_events(entry).map(drop)
    }

    /// Applies one entry and returns the events the rules give for it (none
    /// for the sale's `create` entry), the same as the sale task published.
    fn feed_events(&mut self, entry: &Entry) -> Result<Vec<Event>, ReplayError> {
        let mut events = Vec::new();
        self.tip.accept(entry)?;
        let seq = entry.seq;
        let id = self.id;
        let record_err = |source| ReplayError::Record { sale: id, seq, source };
        let record = Record::decode(&entry.payload).map_err(record_err)?;
        if self.sale.is_none()
            && let Record::Create { v, .. } = &record
        {
            self.start(*v)?;
            let persons = self.seal.as_ref().map_or(Persons::AsWritten, Persons::Unseal);
            let config = record.config(persons).map_err(record_err)?.ok_or(ReplayError::Empty { sale: id })?;
            config.check().map_err(|problem| ReplayError::BadTerms { sale: id, seq, problem })?;
            self.sale = Some(Sale::with_id(config, id));
            self.replayed += 1;
            return Ok(events);
        }
        if record.version() != self.version {
            return Err(record_err(RecordError::VersionMixed { found: record.version(), sale: self.version }));
        }
        let on_pseudonyms = self.on_pseudonyms();
        let persons = self.seal.as_ref().map_or(Persons::AsWritten, Persons::Unseal);
        match (&mut self.sale, &record) {
            (Some(sale), _) => {
                let Some((input, recorded)) = record
                    .to_input_as(entry.at_us, persons)
                    .map_err(|source| ReplayError::Record { sale: self.id, seq, source })?
                else {
                    return Err(ReplayError::Record { sale: self.id, seq, source: RecordError::Misplaced });
                };
                if on_pseudonyms
                    && let Input::Command(c) = &input
                    && matches!(c.action, Action::Join { .. })
                {
                    // The work binds the account, which this log hides: take
                    // the verdict it recorded (a refusal names the work).
                    let refused = recorded.is_some_and(|o| o.reason.as_deref() == Some("bad-proof-of-work"));
                    sale.assume_proof_of_work(Some(!refused));
                }
                let mut applied = sale.apply(&input);
                events = std::mem::take(&mut applied.events);
                if let Some(recorded) = recorded {
                    let replayed = OutcomeV1::from(&applied.outcome);
                    if &replayed != recorded {
                        return Err(ReplayError::Diverged {
                            sale: self.id,
                            seq,
                            recorded: format!("{recorded:?}"),
                            replayed: format!("{replayed:?}"),
                        });
                    }
                }
                if matches!(input, Input::Tick { .. }) && !applied.changed {
                    tracing::debug!(sale = self.id, seq, "logged tick changed nothing");
                }
                // A recount is O(state), and the state grows with the log: a
                // recount every so many entries made a long audit quadratic
                // (most of a 200,000-entry audit's time). The stride grows with
                // the log instead, so all recounts together cost about as much
                // as a few passes over it; and one runs at the end.
                if self.check_invariants && seq.saturating_sub(self.recounted_at) >= AUDIT_RECOUNT_EVERY.max(seq / 4) {
                    self.recounted_at = seq;
                    sale.check_invariants().map_err(|problem| ReplayError::Invariant {
                        sale: self.id,
                        seq,
                        problem,
                    })?;
                }
            }
            (None, _) => return Err(ReplayError::Record { sale: self.id, seq, source: RecordError::Misplaced }),
        }
        self.replayed += 1;
        Ok(events)
    }
}

fn run(log: &mut dyn CommandLog, replayer: &mut Replayer, from_seq: u64) -> Result<(), ReplayError> {
    run_between(log, replayer, from_seq, u64::MAX)
}

/// Replays entries `from_seq..=last` (those the log has).
fn run_between(log: &mut dyn CommandLog, replayer: &mut Replayer, from_seq: u64, last: u64) -> Result<(), ReplayError> {
    let mut failure: Option<ReplayError> = None;
    let mut reached_last = false;
    let result = log.replay(replayer.id, from_seq, &mut |entry| {
        if entry.seq > last {
            reached_last = true;
            return Err(LogError::Visitor("stop".into()));
        }
        match replayer.feed(&entry) {
            Ok(()) => Ok(()),
            Err(e) => {
                let message = e.to_string();
                failure = Some(e);
                Err(LogError::Visitor(message.into()))
            }
        }
    });
    match (failure, result) {
        (Some(e), _) => Err(e),
        (None, Err(LogError::Visitor(_))) if reached_last => Ok(()),
        (None, Err(e)) => Err(e.into()),
        (None, Ok(())) => Ok(()),
    }
}

/// Checks that every stored snapshot of the sale names an entry of the log by
/// (seq, hash): one index lookup per snapshot, cheap enough for every start.
pub fn check_snapshot_marks(log: &mut dyn CommandLog, id: SaleId) -> Result<(), ReplayError> {
    for (seq, hash) in log.snapshot_marks(id)? {
        match log.entry_hash(id, seq)? {
            Some(found) if found == hash => {}
            found => return Err(ReplayError::SnapshotNotInLog { sale: id, seq, missing: found.is_none() }),
        }
    }
    Ok(())
}

/// Rebuilds one sale for serving: newest snapshot, then the entries after it,
/// each link of the chain checked from the snapshot on. Refuses a log whose
/// snapshots are not its own entries ([`check_snapshot_marks`]); damage before
/// the newest snapshot is otherwise left to the full audit
/// ([`audit`], run in the background by a serving engine).
/// A snapshot that is unreadable or from another format is skipped (full replay).
pub fn recover(log: &mut dyn CommandLog, id: SaleId) -> Result<Recovered, ReplayError> {
    recover_with(log, id, None)
}

/// The sale's first entry (its `create` record).
fn first_entry(log: &mut dyn CommandLog, id: SaleId) -> Result<Option<Entry>, ReplayError> {
    let mut first = None;
    match log.replay(id, 0, &mut |entry| {
        first = Some(entry);
        Err(LogError::Visitor("stop".into()))
    }) {
        Ok(()) | Err(LogError::Visitor(_)) => Ok(first),
        Err(e) => Err(e.into()),
    }
}

/// [`recover`] with the server's key, which a sale whose people are sealed
/// needs (without it, such a sale is refused: `ReplayError::Sealed`).
pub fn recover_with(log: &mut dyn CommandLog, id: SaleId, key: Option<&PersonKey>) -> Result<Recovered, ReplayError> {
    check_snapshot_marks(log, id)?;
    recover_through(log, id, key, u64::MAX)
}

/// The sale as it was right after its entry `seq`, rebuilt from the newest
/// snapshot before it and the entries up to it: how a snapshot is made from
/// the durable log alone, by a thread of its own, while the sale runs on.
/// `None` when the log does not (yet) hold entry `seq`.
pub fn state_at(
    log: &mut dyn CommandLog,
    id: SaleId,
    key: Option<&PersonKey>,
    seq: u64,
) -> Result<Option<(Sale, ChainTip)>, ReplayError> {
    let r = recover_through(log, id, key, seq)?;
    Ok((r.tip.next_seq == seq + 1).then_some((r.sale, r.tip)))
}

/// [`recover_with`] without the marks check, stopping after entry `last`.
fn recover_through(
    log: &mut dyn CommandLog,
    id: SaleId,
    key: Option<&PersonKey>,
    last: u64,
) -> Result<Recovered, ReplayError> {
    let reading = Reading::Accounts(key.cloned());
    if let Some(snap) = log.latest_snapshot(id)?
        && snap.format == SNAPSHOT_FORMAT
        && snap.seq <= last
    {
        // A snapshot is trusted only as far as its books balance: one that
        // does not (written by a bug, or edited and rehashed) is set aside and
        // the log, which the snapshot only abbreviates, is replayed in full.
        let decoded = postcard::from_bytes::<Sale>(&snap.state).map_err(|e| e.to_string()).and_then(|sale| {
            sale.check_invariants().map(|()| sale).map_err(|problem| format!("its books do not balance: {problem}"))
        });
        match decoded {
            Ok(sale) => {
                let tip = ChainTip { sale: id, next_seq: snap.seq + 1, last_hash: snap.hash };
                let mut r = Replayer::new(id, false, reading);
                let first = first_entry(log, id)?;
                r.resume(sale, tip, first.as_ref())?;
                run_between(log, &mut r, snap.seq + 1, last)?;
                let sale = r.sale.ok_or(ReplayError::Empty { sale: id })?;
                return Ok(Recovered {
                    sale,
                    tip: r.tip,
                    replayed: r.replayed,
                    from_snapshot_seq: Some(snap.seq),
                    sealed: is_sealed(r.version),
                    record_version: r.version,
                });
            }
            Err(e) => tracing::warn!(sale = id, error = %e, "snapshot not usable; replaying the whole log"),
        }
    }
    let mut r = Replayer::new(id, false, reading);
    run_between(log, &mut r, 0, last)?;
    let sale = r.sale.ok_or(ReplayError::Empty { sale: id })?;
    Ok(Recovered {
        sale,
        tip: r.tip,
        replayed: r.replayed,
        from_snapshot_seq: None,
        sealed: is_sealed(r.version),
        record_version: r.version,
    })
}

/// What `verify` found for one sale.
#[derive(Debug)]
pub struct SaleAudit {
    pub sale: SaleId,
    pub entries: u64,
    pub snapshot_checked: Option<u64>,
    pub final_state: Sale,
}

/// Replays a sale from its first entry with every check on: chain links,
/// recorded outcomes, invariants every [`AUDIT_RECOUNT_EVERY`] entries and at the end, and the newest snapshot
/// compared with the replayed state at its seq.
pub fn audit(log: &mut dyn CommandLog, id: SaleId) -> Result<SaleAudit, AuditFailure> {
    audit_with(log, id, None)
}

/// [`audit`] with the server's key: a sealed sale is then replayed on its
/// accounts, proofs of work and the newest snapshot included. Without the
/// key a sealed sale is replayed on its pseudonyms, as a published log's
/// verifier does: every outcome is checked but proofs of work (which bind
/// the hidden account) are taken as recorded, and the snapshot, which holds
/// accounts, is not compared.
pub fn audit_with(log: &mut dyn CommandLog, id: SaleId, key: Option<&PersonKey>) -> Result<SaleAudit, AuditFailure> {
    // The chain first, on its own: a broken link is reported as such, with the
    // number of good links before it, rather than as whatever its payload does.
    let mut chain = ChainTip::genesis(id);
    log.replay(id, 0, &mut |entry| chain.accept(&entry))
        .map_err(|e| AuditFailure { checked: chain.next_seq, source: e.into() })?;
    let mut r = Replayer::new(id, true, Reading::AsFound(key.cloned()));
    audit_outcomes(log, &mut r).map_err(|source| AuditFailure { checked: r.replayed, source })
}

fn audit_outcomes(log: &mut dyn CommandLog, r: &mut Replayer) -> Result<SaleAudit, ReplayError> {
    let id = r.id;
    let snapshot = log.latest_snapshot(id)?.filter(|s| s.format == SNAPSHOT_FORMAT);
    let mut snapshot_checked = None;
    if let Some(snap) = &snapshot {
        run_between(log, r, 0, snap.seq)?;
        let replayed = r.sale.as_ref().ok_or(ReplayError::Empty { sale: id })?;
        if r.on_pseudonyms() {
            // Its state names accounts; this replay's names pseudonyms.
            let from = r.tip.next_seq;
            run(log, r, from)?;
            return finish(r, None);
        }
        let stored: Sale =
            postcard::from_bytes(&snap.state).map_err(|_| ReplayError::SnapshotMismatch { sale: id, seq: snap.seq })?;
        if &stored != replayed || snap.hash != r.tip.last_hash {
            return Err(ReplayError::SnapshotMismatch { sale: id, seq: snap.seq });
        }
        snapshot_checked = Some(snap.seq);
    }
    let from = r.tip.next_seq;
    run(log, r, from)?;
    finish(r, snapshot_checked)
}

fn finish(r: &mut Replayer, snapshot_checked: Option<u64>) -> Result<SaleAudit, ReplayError> {
    let id = r.id;
    let final_state = r.sale.take().ok_or(ReplayError::Empty { sale: id })?;
    final_state.check_invariants().map_err(|problem| ReplayError::Invariant {
        sale: id,
        seq: r.tip.next_seq.saturating_sub(1),
        problem,
    })?;
    Ok(SaleAudit { sale: id, entries: r.replayed, snapshot_checked, final_state })
}

/// Re-derives the events of a sale's entries `from_seq..` from the log, as the
/// engine published them: the sale is rebuilt with the deterministic core from
/// the newest snapshot at or before `from_seq` (else from its first entry),
/// and every entry from `from_seq` on is handed to `visit` in log order, with
/// its events (an entry without events too, so the seqs have no gaps).
/// Returns the seq after the last entry visited (`from_seq` if there was none).
/// This is how a subscriber that fell behind, or started late, catches up:
/// from the log by seq, never from memory.
pub fn events_since(
    log: &mut dyn CommandLog,
    id: SaleId,
    from_seq: u64,
    visit: &mut dyn FnMut(EntryEvents) -> Result<(), String>,
) -> Result<u64, ReplayError> {
    events_since_with(log, id, from_seq, None, visit)
}

/// [`events_since`] with the server's key, which a sealed sale needs (its
/// events name accounts, as the engine published them).
pub fn events_since_with(
    log: &mut dyn CommandLog,
    id: SaleId,
    from_seq: u64,
    key: Option<&PersonKey>,
    visit: &mut dyn FnMut(EntryEvents) -> Result<(), String>,
) -> Result<u64, ReplayError> {
    let mut r = Replayer::new(id, false, Reading::Accounts(key.cloned()));
    let mut start = 0;
    if from_seq > 0
        && let Some(snap) = log.latest_snapshot(id)?
        && snap.format == SNAPSHOT_FORMAT
        && snap.seq < from_seq
        && let Ok(sale) = postcard::from_bytes::<Sale>(&snap.state)
    {
        let first = first_entry(log, id)?;
        r.resume(sale, ChainTip { sale: id, next_seq: snap.seq + 1, last_hash: snap.hash }, first.as_ref())?;
        start = snap.seq + 1;
    }
    let mut next = from_seq;
    let mut failure: Option<ReplayError> = None;
    let result = log.replay(id, start, &mut |entry| {
        let fail = |failure: &mut Option<ReplayError>, e: ReplayError| {
            let message = e.to_string();
            *failure = Some(e);
            LogError::Visitor(message.into())
        };
        let events = r.feed_events(&entry).map_err(|e| fail(&mut failure, e))?;
        if entry.seq >= from_seq {
            visit(EntryEvents { seq: entry.seq, at_us: entry.at_us, events })
                .map_err(|problem| LogError::Visitor(format!("sale {id} seq {}: {problem}", entry.seq).into()))?;
            next = entry.seq + 1;
        }
        Ok(())
    });
    match (failure, result) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(e.into()),
        (None, Ok(())) => Ok(next),
    }
}

/// Encodes a sale's state for a snapshot.
pub fn encode_snapshot(sale: &Sale) -> Option<Vec<u8>> {
    postcard::to_allocvec(sale).ok()
}

/// Checks a sale's log handed over entry by entry, as `stampede verify --log`
/// reads a downloaded file: every link of the chain from the first entry,
/// every recorded outcome replayed (on pseudonyms: no key is needed), and
/// the invariants every [`AUDIT_RECOUNT_EVERY`] entries and at the end.
pub struct LogVerifier {
    r: Replayer,
}

impl LogVerifier {
    pub fn new(sale: SaleId) -> Self {
        LogVerifier { r: Replayer::new(sale, true, Reading::AsFound(None)) }
    }

    /// The next entry.
    pub fn feed(&mut self, entry: &Entry) -> Result<(), AuditFailure> {
        self.r.feed(entry).map_err(|source| AuditFailure { checked: self.r.replayed, source })
    }

    /// Entries checked so far.
    pub fn checked(&self) -> u64 {
        self.r.replayed
    }

    /// The end of the log: the final recount.
    pub fn finish(mut self) -> Result<SaleAudit, AuditFailure> {
        let checked = self.r.replayed;
        finish(&mut self.r, None).map_err(|source| AuditFailure { checked, source })
    }
}
