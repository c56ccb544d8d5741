//! Errors of the command log.

use crate::chain::SaleId;

/// Why a link of a sale's chain is not the expected next link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    /// The entry belongs to another sale than the chain it was offered to.
    #[error("entry belongs to sale {found}")]
    WrongSale {
        /// The sale named by the entry.
        found: SaleId,
    },
    /// The entry's seq is not the next seq of the chain (a gap or a duplicate).
    #[error("expected seq {expected}")]
    SeqMismatch {
        /// The seq the chain expected next.
        expected: u64,
    },
    /// The entry's stored hash is not the hash recomputed from the previous link.
    #[error("hash does not match the recomputed chain hash")]
    HashMismatch,
}

/// Everything that can go wrong with the command log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// An entry is not the next link of its sale's chain: rejected on append, or found
    /// in storage by `verify_chain`.
    #[error("chain of sale {sale} broken at seq {seq}: {fault}")]
    ChainBroken {
        /// The sale whose chain is broken.
        sale: SaleId,
        /// The seq of the offending entry.
        seq: u64,
        /// What is wrong with it.
        fault: ChainFault,
    },
    /// A snapshot does not describe an entry of the log (no such entry, or its hash differs).
    #[error("snapshot of sale {sale} at seq {seq} rejected: {reason}")]
    InvalidSnapshot {
        /// The snapshot's sale.
        sale: SaleId,
        /// The snapshot's seq.
        seq: u64,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A value cannot be represented by the storage backend (e.g. a sale id above `i64::MAX` in SQLite).
    #[error("{what} {value} is out of the storable range")]
    OutOfRange {
        /// Which value.
        what: &'static str,
        /// The offending value.
        value: u64,
    },
    /// The log was written by a newer version of Stampede.
    #[error("log schema version {found} is newer than the supported version {supported}")]
    UnsupportedSchema {
        /// Version found in the store.
        found: i64,
        /// Newest version this build understands.
        supported: i64,
    },
    /// The storage backend is not configured as the log requires.
    #[error("unsupported storage configuration: {0}")]
    Unsupported(String),
    /// Reading or writing the storage failed (a disk error, a full disk, a file
    /// that cannot be opened): the outcome of an append that fails so is uncertain.
    #[error("log storage I/O failed: {0}")]
    Io(#[source] std::io::Error),
    /// The storage holds something that is not a log this build can read (a
    /// damaged file, a value outside the schema's range).
    #[error("log storage is corrupt: {0}")]
    Corrupt(String),
    /// The storage backend failed in a way of its own (a lock timeout, a
    /// constraint, a lost connection, ...); `backend` names it.
    #[error("{backend} log backend failed: {source}")]
    Backend {
        /// Which backend, e.g. "sqlite".
        backend: &'static str,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An earlier append of this handle failed with its outcome uncertain;
    /// the handle refuses every further append until the log is reopened
    /// (recovery then reads what is really durable).
    #[error("the log refused the append: an earlier append failed; reopen the log")]
    Poisoned,
    /// A replay visitor failed with an error of its own.
    #[error("replay visitor failed: {0}")]
    Visitor(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl LogError {
    /// Whether this error refused the call with nothing written and the log
    /// unchanged and usable (a broken link, a bad snapshot, an unstorable
    /// value), as opposed to a storage failure whose outcome is uncertain.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::ChainBroken { .. } | Self::InvalidSnapshot { .. } | Self::OutOfRange { .. })
    }
}
