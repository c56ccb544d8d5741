//! The in-memory backend of the command log: the same contract as SQLite's,
//! kept in a [`MemoryDisk`] that outlives the log handle, so a test or the
//! deterministic simulator can drop the writer and reopen what was committed,
//! as a restart would. Nothing is ever written to a file.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::chain::{ChainTip, Entry, Hash, SaleId, Snapshot};
use crate::command_log::{CommandLog, SNAPSHOTS_KEPT_PER_SALE, SnapshotStore};
use crate::error::LogError;

/// Entries copied out per lock in `replay`, so a slow visitor (an audit)
/// never holds the disk's lock while the writer wants to commit.
const REPLAY_PAGE_ENTRIES: usize = 4096;

/// What a memory log has committed. Clones share it: each clone is the same
/// "disk", and every [`MemoryLog`] opened on it sees every commit.
#[derive(Clone, Debug, Default)]
pub struct MemoryDisk {
    stored: Arc<Mutex<Stored>>,
}

#[derive(Debug, Default)]
struct Stored {
    /// Each sale's chain, seq 0.. without gaps.
    entries: BTreeMap<SaleId, Vec<Entry>>,
    /// Each sale's newest snapshots, ascending by seq, at most
    /// [`SNAPSHOTS_KEPT_PER_SALE`].
    snapshots: BTreeMap<SaleId, Vec<Snapshot>>,
}

impl Stored {
    fn tip(&self, sale: SaleId) -> ChainTip {
        match self.entries.get(&sale).and_then(|chain| chain.last()) {
            Some(last) => ChainTip { sale, next_seq: last.seq + 1, last_hash: last.hash },
            None => ChainTip::genesis(sale),
        }
    }

    fn entry_hash(&self, sale: SaleId, seq: u64) -> Option<Hash> {
        let chain = self.entries.get(&sale)?;
        let entry = chain.get(usize::try_from(seq).ok()?)?;
        // Chains are stored gap-free, so position == seq; checked all the same.
        (entry.seq == seq).then_some(entry.hash)
    }

    /// Stores (or replaces, same seq) a snapshot and keeps only the newest few.
    fn put_snapshot(&mut self, snapshot: &Snapshot) {
        let kept = self.snapshots.entry(snapshot.sale).or_default();
        kept.retain(|s| s.seq != snapshot.seq);
        kept.push(snapshot.clone());
        kept.sort_by_key(|s| s.seq);
        let excess = kept.len().saturating_sub(SNAPSHOTS_KEPT_PER_SALE);
        kept.drain(..excess);
    }
}

impl MemoryDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Stored> {
        // A panic elsewhere while holding the lock leaves `Stored` whole:
        // every mutation below is applied only after all checks passed.
        self.stored.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A command log held in memory (see the module doc). Appends are atomic:
/// a refused batch leaves the disk as it was.
#[derive(Debug)]
pub struct MemoryLog {
    disk: MemoryDisk,
}

impl MemoryLog {
    /// Opens the log kept on `disk` (a clone of it: the disk stays shared).
    pub fn open(disk: &MemoryDisk) -> Self {
        Self { disk: disk.clone() }
    }

    /// A fresh log on an empty disk of its own.
    pub fn new() -> Self {
        Self::open(&MemoryDisk::new())
    }

    /// The disk this log commits to, to reopen it later.
    pub fn disk(&self) -> MemoryDisk {
        self.disk.clone()
    }
}

impl Default for MemoryLog {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandLog for MemoryLog {
    fn append(&mut self, entries: &[Entry], snapshots: &[Snapshot]) -> Result<(), LogError> {
        let mut stored = self.disk.lock();
        // Check everything first against the tips as they will be, then apply.
        let mut tips: BTreeMap<SaleId, ChainTip> = BTreeMap::new();
        for entry in entries {
            let tip = tips.entry(entry.sale).or_insert_with(|| stored.tip(entry.sale));
            tip.accept(entry)?;
        }
        for snap in snapshots {
            let invalid = |reason| LogError::InvalidSnapshot { sale: snap.sale, seq: snap.seq, reason };
            let in_batch = entries.iter().find(|e| e.sale == snap.sale && e.seq == snap.seq).map(|e| e.hash);
            match in_batch.or_else(|| stored.entry_hash(snap.sale, snap.seq)) {
                None => return Err(invalid("the log has no entry with this seq")),
                Some(hash) if hash != snap.hash => return Err(invalid("hash differs from the entry's hash")),
                Some(_) => {}
            }
        }
        for entry in entries {
            stored.entries.entry(entry.sale).or_default().push(entry.clone());
        }
        for snap in snapshots {
            stored.put_snapshot(snap);
        }
        Ok(())
    }

    fn snapshot_store(&mut self) -> Result<Option<Box<dyn SnapshotStore>>, LogError> {
        Ok(Some(Box::new(MemorySnapshotStore { disk: self.disk.clone() })))
    }

    fn reader(&mut self) -> Result<Option<Box<dyn CommandLog>>, LogError> {
        Ok(Some(Box::new(MemoryLog::open(&self.disk))))
    }

    fn sales(&mut self) -> Result<Vec<SaleId>, LogError> {
        let stored = self.disk.lock();
        Ok(stored.entries.iter().filter(|(_, chain)| !chain.is_empty()).map(|(&sale, _)| sale).collect())
    }

    fn latest_snapshot(&mut self, sale: SaleId) -> Result<Option<Snapshot>, LogError> {
        Ok(self.disk.lock().snapshots.get(&sale).and_then(|kept| kept.last().cloned()))
    }

    fn snapshot_marks(&mut self, sale: SaleId) -> Result<Vec<(u64, Hash)>, LogError> {
        let stored = self.disk.lock();
        Ok(stored
            .snapshots
            .get(&sale)
            .map(|kept| kept.iter().rev().map(|s| (s.seq, s.hash)).collect())
            .unwrap_or_default())
    }

    fn entry_hash(&mut self, sale: SaleId, seq: u64) -> Result<Option<Hash>, LogError> {
        Ok(self.disk.lock().entry_hash(sale, seq))
    }

    fn replay(
        &mut self,
        sale: SaleId,
        from_seq: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let Ok(mut next) = usize::try_from(from_seq) else {
            return Ok(());
        };
        loop {
            let page: Vec<Entry> = {
                let stored = self.disk.lock();
                let Some(chain) = stored.entries.get(&sale) else {
                    return Ok(());
                };
                chain.iter().skip(next).take(REPLAY_PAGE_ENTRIES).cloned().collect()
            };
            let read = page.len();
            for entry in page {
                visit(entry)?;
            }
            if read < REPLAY_PAGE_ENTRIES {
                return Ok(());
            }
            next += read;
        }
    }
}

/// Writes snapshots to a [`MemoryDisk`] apart from the log's appends.
#[derive(Debug)]
pub struct MemorySnapshotStore {
    disk: MemoryDisk,
}

impl SnapshotStore for MemorySnapshotStore {
    fn put(&mut self, snapshot: &Snapshot) -> Result<(), LogError> {
        self.disk.lock().put_snapshot(snapshot);
        Ok(())
    }
}
