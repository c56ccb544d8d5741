//! `stampede-log` owns the durable, totally ordered, per-sale hash-chained command
//! log that is the source of truth of every sale.
//!
//! Each sale has its own chain of [`Entry`]s (seq 0, 1, 2, ... with no gaps), each
//! entry's [`Hash`](type@Hash) committing to the previous one (see [`chain_hash`]). Payloads are
//! opaque bytes: the engine decides what they mean. [`Snapshot`]s are disposable
//! caches of a sale's state after some entry, stored beside the log so recovery
//! can skip most of the replay.
//!
//! [`CommandLog`] is the backend-neutral trait. [`SqliteLog`] is the backend
//! the server runs on; [`MemoryLog`] keeps the same contract in memory, and
//! [`FaultyLog`] wraps either to fail or tear a chosen append (both for the
//! deterministic simulator and tests). [`conformance`] is the contract as
//! checks every backend runs.

mod chain;
mod checkpoint;
mod command_log;
pub mod conformance;
mod error;
mod faulty;
mod memory;
mod sqlite;

pub use chain::{ChainTip, Entry, GENESIS_HASH, Hash, SaleId, Snapshot, chain_hash};
pub use checkpoint::{WAL_RESET_FRAMES, WAL_SIZE_LIMIT_BYTES};
pub use command_log::{ChainReport, CommandLog, SNAPSHOTS_KEPT_PER_SALE, SnapshotStore};
pub use error::{ChainFault, LogError};
pub use faulty::{Fault, FaultyLog};
pub use memory::{MemoryDisk, MemoryLog, MemorySnapshotStore};
pub use sqlite::{SCHEMA_VERSION, SqliteLog, SqliteSnapshotStore, backup_database, snapshots_path};
