//! `stampede-log` owns the durable, totally ordered, per-sale hash-chained command
//! log that is the source of truth of every sale.
//!
//! Each sale has its own chain of [`Entry`]s (seq 0, 1, 2, ... with no gaps), each
//! entry's [`Hash`](type@Hash) committing to the previous one (see [`chain_hash`]). Payloads are
//! opaque bytes: the engine decides what they mean. [`Snapshot`]s are disposable
//! caches of a sale's state after some entry, stored beside the log so recovery
//! can skip most of the replay.
//!
//! [`CommandLog`] is the backend-neutral trait; [`SqliteLog`] is the SQLite backend.

mod chain;
mod checkpoint;
mod command_log;
mod error;
mod sqlite;

pub use chain::{ChainTip, Entry, GENESIS_HASH, Hash, SaleId, Snapshot, chain_hash};
pub use checkpoint::{WAL_RESET_FRAMES, WAL_SIZE_LIMIT_BYTES};
pub use command_log::{ChainReport, CommandLog, SnapshotStore};
pub use error::{ChainFault, LogError};
pub use sqlite::{SCHEMA_VERSION, SqliteLog, SqliteSnapshotStore, backup_database, snapshots_path};
