//! A fault-injecting wrapper around any command log: [`FaultyLog`] fails the
//! nth append, or tears it (stores a prefix of its entries, then fails), as a
//! disk, a crash mid-write or a non-atomic backend would; and from then on it
//! refuses every append, as the engine must treat a log whose last write has
//! an uncertain outcome. The deterministic simulator and the conformance
//! suite use it to check that recovery copes with what such a failure leaves.

use crate::chain::{Entry, Hash, SaleId, Snapshot};
use crate::command_log::{CommandLog, SnapshotStore};
use crate::error::LogError;

/// What happens to the chosen append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing of the batch is stored; the append fails.
    Fail,
    /// The first `keep` entries of the batch are stored (as one append of the
    /// wrapped log, without the batch's snapshots), then the append fails:
    /// the writer cannot tell how much got through. `keep` at or past the
    /// batch's length stores it all and still fails (the acknowledgement was lost).
    Tear {
        /// How many of the batch's entries reach the wrapped log.
        keep: usize,
    },
}

/// Wraps a [`CommandLog`], injecting one [`Fault`] at a chosen append and
/// poisoning itself after any failure (injected, or a storage failure of the
/// wrapped log); refusals (a broken link, a bad snapshot) do not poison.
/// Reads always pass through: what is durable stays readable.
#[derive(Debug)]
pub struct FaultyLog<L> {
    inner: L,
    /// Calls of `append` so far, the failing one included.
    appends: u64,
    /// The 1-based append to spoil, and how.
    planned: Option<(u64, Fault)>,
    poisoned: bool,
}

impl<L: CommandLog> FaultyLog<L> {
    /// Passes everything through until the wrapped log fails by itself.
    pub fn new(inner: L) -> Self {
        Self { inner, appends: 0, planned: None, poisoned: false }
    }

    /// Spoils the `nth` call of `append` (1-based, counting every call) with `fault`.
    pub fn with_fault(inner: L, nth: u64, fault: Fault) -> Self {
        Self { planned: Some((nth, fault)), ..Self::new(inner) }
    }

    /// Fails the `nth` append with nothing stored.
    pub fn failing(inner: L, nth: u64) -> Self {
        Self::with_fault(inner, nth, Fault::Fail)
    }

    /// Tears the `nth` append after its first `keep` entries.
    pub fn tearing(inner: L, nth: u64, keep: usize) -> Self {
        Self::with_fault(inner, nth, Fault::Tear { keep })
    }

    /// Whether a failure has made this handle refuse every append.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// How many times `append` was called.
    pub fn appends(&self) -> u64 {
        self.appends
    }

    /// The wrapped log (e.g. to read it after the fault).
    pub fn inner_mut(&mut self) -> &mut L {
        &mut self.inner
    }

    /// Unwraps the log.
    pub fn into_inner(self) -> L {
        self.inner
    }

    fn injected(&self, what: &str) -> LogError {
        LogError::Io(std::io::Error::other(format!("injected fault: append #{} {what}", self.appends)))
    }
}

impl<L: CommandLog> CommandLog for FaultyLog<L> {
    fn append(&mut self, entries: &[Entry], snapshots: &[Snapshot]) -> Result<(), LogError> {
        self.appends += 1;
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        let result = match self.planned {
            Some((nth, fault)) if nth == self.appends => {
                self.poisoned = true;
                return Err(match fault {
                    Fault::Fail => self.injected("failed"),
                    Fault::Tear { keep } => {
                        let kept = &entries[..keep.min(entries.len())];
                        match self.inner.append(kept, &[]) {
                            Ok(()) => self.injected(&format!("torn after {} of {} entries", kept.len(), entries.len())),
                            Err(e) => e,
                        }
                    }
                });
            }
            _ => self.inner.append(entries, snapshots),
        };
        if let Err(e) = &result
            && !e.is_refusal()
        {
            self.poisoned = true;
        }
        result
    }

    fn snapshot_store(&mut self) -> Result<Option<Box<dyn SnapshotStore>>, LogError> {
        // Snapshots are a cache of durable entries, checked against the log at
        // recovery: they need no fault of their own.
        self.inner.snapshot_store()
    }

    fn reader(&mut self) -> Result<Option<Box<dyn CommandLog>>, LogError> {
        // Reads see only what was committed; the faults are the writer's.
        self.inner.reader()
    }

    fn sales(&mut self) -> Result<Vec<SaleId>, LogError> {
        self.inner.sales()
    }

    fn latest_snapshot(&mut self, sale: SaleId) -> Result<Option<Snapshot>, LogError> {
        self.inner.latest_snapshot(sale)
    }

    fn snapshot_marks(&mut self, sale: SaleId) -> Result<Vec<(u64, Hash)>, LogError> {
        self.inner.snapshot_marks(sale)
    }

    fn entry_hash(&mut self, sale: SaleId, seq: u64) -> Result<Option<Hash>, LogError> {
        self.inner.entry_hash(sale, seq)
    }

    fn replay(
        &mut self,
        sale: SaleId,
        from_seq: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        self.inner.replay(sale, from_seq, visit)
    }

    fn verify_chain(&mut self, sale: SaleId) -> Result<crate::ChainReport, LogError> {
        self.inner.verify_chain(sale)
    }
}
