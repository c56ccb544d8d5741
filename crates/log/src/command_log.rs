//! The backend-neutral command log trait.

use crate::chain::{ChainTip, Entry, Hash, SaleId, Snapshot};
use crate::error::LogError;

/// How many snapshots a backend keeps per sale: the newest ones. Older ones
/// only lengthen nothing (recovery starts from the newest valid one) and cost space.
pub const SNAPSHOTS_KEPT_PER_SALE: usize = 2;

/// The result of a successful [`CommandLog::verify_chain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// The verified sale.
    pub sale: SaleId,
    /// How many entries the chain has (= `tip.next_seq`).
    pub entries: u64,
    /// The tip after the last entry (`ChainTip::genesis` for an empty chain).
    pub tip: ChainTip,
}

/// A durable, totally ordered, per-sale hash-chained command log.
///
/// One writer per log: implementations may cache each sale's tip in memory, so the
/// log must not be appended to by anything else while it is open.
pub trait CommandLog: Send {
    /// Appends entries (of any number of sales, in the given order) and snapshots in ONE
    /// atomic durable transaction: when it returns Ok, everything is on disk (fsynced);
    /// on Err, nothing of it is.
    ///
    /// Rejects (`Err(LogError::ChainBroken{..})`, nothing written) an entry that is not
    /// exactly the next link of its sale: wrong seq (gap or duplicate) or wrong hash.
    /// Rejects (`Err(LogError::InvalidSnapshot{..})`) a snapshot whose (seq, hash) is
    /// not an entry of the log once this call's entries are in. Snapshots are checked
    /// after all entries of the call, so a batch may snapshot its own last entry.
    fn append(&mut self, entries: &[Entry], snapshots: &[Snapshot]) -> Result<(), LogError>;

    /// A writer of snapshots that works apart from `append`, for a thread of
    /// its own, so a large snapshot never delays a commit; `None` when this
    /// backend keeps snapshots only through `append`.
    fn snapshot_store(&mut self) -> Result<Option<Box<dyn SnapshotStore>>, LogError> {
        Ok(None)
    }

    /// A second handle on this log for another thread, which reads what this
    /// one commits and never appends (snapshots are built from the log by
    /// replaying it there); `None` when the backend cannot open one.
    fn reader(&mut self) -> Result<Option<Box<dyn CommandLog>>, LogError> {
        Ok(None)
    }

    /// Every sale that has at least one entry, ascending.
    fn sales(&mut self) -> Result<Vec<SaleId>, LogError>;

    /// The snapshot with the highest seq for the sale, if any.
    fn latest_snapshot(&mut self, sale: SaleId) -> Result<Option<Snapshot>, LogError>;

    /// The (seq, hash) of every stored snapshot of the sale, newest first, without their states.
    fn snapshot_marks(&mut self, sale: SaleId) -> Result<Vec<(u64, Hash)>, LogError> {
        Ok(self.latest_snapshot(sale)?.map(|s| (s.seq, s.hash)).into_iter().collect())
    }

    /// The hash of the sale's entry `seq`, or `None` when the log has no such entry.
    fn entry_hash(&mut self, sale: SaleId, seq: u64) -> Result<Option<Hash>, LogError> {
        let mut found = None;
        let result = self.replay(sale, seq, &mut |entry| {
            if entry.seq == seq {
                found = Some(entry.hash);
            }
            // One entry is enough; stop the replay.
            Err(LogError::Visitor("stop".into()))
        });
        match result {
            Ok(()) | Err(LogError::Visitor(_)) => Ok(found),
            Err(e) => Err(e),
        }
    }

    /// Calls `visit` for each entry of `sale` with seq >= from_seq, in seq order, streaming
    /// (never loads the whole sale into memory). Stops early and returns the visitor's error.
    fn replay(
        &mut self,
        sale: SaleId,
        from_seq: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), LogError>,
    ) -> Result<(), LogError>;

    /// Recomputes the whole chain of `sale` from `GENESIS_HASH` and checks every stored hash
    /// and that seqs are 0..n with no gap; `Err(ChainBroken)` at the first bad link.
    fn verify_chain(&mut self, sale: SaleId) -> Result<ChainReport, LogError> {
        let mut tip = ChainTip::genesis(sale);
        self.replay(sale, 0, &mut |entry| tip.accept(&entry))?;
        Ok(ChainReport { sale, entries: tip.next_seq, tip })
    }
}

/// Stores snapshots beside a [`CommandLog`] (see [`CommandLog::snapshot_store`]).
///
/// It does not check the snapshot against the log: the caller hands over only
/// snapshots whose entry is already durable, and recovery checks every stored
/// snapshot's (seq, hash) against the log before using any.
pub trait SnapshotStore: Send {
    /// Stores the snapshot (durably enough for a cache), keeping the newest few per sale.
    fn put(&mut self, snapshot: &Snapshot) -> Result<(), LogError>;
}
