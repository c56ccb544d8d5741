//! The SQLite backend of the command log: one database file in WAL mode with
//! `synchronous=FULL`, one `BEGIN IMMEDIATE ... COMMIT` per append; the WAL is
//! checkpointed by a thread of its own ([`crate::checkpoint`]), never by a commit.
//! Snapshots live in a database file of their own beside it ([`snapshots_path`]),
//! written by their own connection ([`SqliteSnapshotStore`]), so a large
//! snapshot never takes the log's write lock or grows the log's WAL.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::chain::{ChainTip, Entry, Hash, SaleId, Snapshot};
use crate::checkpoint::{Checkpointer, WAL_SIZE_LIMIT_BYTES, checkpoint};
use crate::command_log::{CommandLog, SNAPSHOTS_KEPT_PER_SALE, SnapshotStore};
use crate::error::LogError;

/// The schema version this build writes and understands (stored in `PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many snapshots are kept per sale (the newest ones), as SQL's integer.
const SNAPSHOTS_KEPT: i64 = SNAPSHOTS_KEPT_PER_SALE as i64;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS entries (
    sale    INTEGER NOT NULL CHECK (sale >= 0),
    seq     INTEGER NOT NULL CHECK (seq >= 0),
    at_us   INTEGER NOT NULL,
    payload BLOB    NOT NULL,
    hash    BLOB    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (sale, seq)
) WITHOUT ROWID, STRICT;
";

const INSERT_ENTRY: &str = "INSERT INTO entries (sale, seq, at_us, payload, hash) VALUES (?1, ?2, ?3, ?4, ?5)";
const SELECT_TIP: &str = "SELECT seq, hash FROM entries WHERE sale = ?1 ORDER BY seq DESC LIMIT 1";
const SELECT_ENTRY_HASH: &str = "SELECT hash FROM entries WHERE sale = ?1 AND seq = ?2";
const PUT_SNAPSHOT: &str = "INSERT OR REPLACE INTO snapshots (sale, seq, hash, format, state) \
     VALUES (?1, ?2, ?3, ?4, ?5)";
const PRUNE_SNAPSHOTS: &str = "DELETE FROM snapshots WHERE sale = ?1 AND seq < \
     (SELECT seq FROM snapshots WHERE sale = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)";
/// The snapshots table: in the snapshots database, and in the log's own file
/// (schema version 1 has it; logs written before the snapshots database keep
/// their snapshots there, and they are read too).
const SNAPSHOTS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS snapshots (
    sale   INTEGER NOT NULL CHECK (sale >= 0),
    seq    INTEGER NOT NULL CHECK (seq >= 0),
    hash   BLOB    NOT NULL CHECK (length(hash) = 32),
    format INTEGER NOT NULL CHECK (format BETWEEN 0 AND 4294967295),
    state  BLOB    NOT NULL,
    PRIMARY KEY (sale, seq)
) STRICT;
";
const SELECT_LATEST_SNAPSHOT: &str = "SELECT seq, hash, format, state FROM snapshots \
     WHERE sale = ?1 ORDER BY seq DESC LIMIT 1";
const SELECT_FIRST_SALE: &str = "SELECT MIN(sale) FROM entries";
const SELECT_NEXT_SALE: &str = "SELECT MIN(sale) FROM entries WHERE sale > ?1";
const SELECT_ENTRIES_FROM: &str = "SELECT seq, at_us, payload, hash FROM entries \
     WHERE sale = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3";
const SELECT_SNAPSHOT_MARKS: &str = "SELECT seq, hash FROM snapshots WHERE sale = ?1 ORDER BY seq DESC";

/// Entries read per statement by `replay`. Each statement is its own read
/// transaction, so a long replay (an audit beside a running server, a backup's
/// check) never pins the WAL for longer than one page of entries.
const REPLAY_PAGE_ENTRIES: i64 = 4096;

/// The SQLite command log.
///
/// Keeps the committed tip of every sale it has appended to, so `append` checks chain
/// continuity without reading the database; hence it must be the only writer of its file.
pub struct SqliteLog {
    conn: Connection,
    path: PathBuf,
    /// Committed tip of each sale touched by `append` so far, loaded lazily.
    tips: HashMap<SaleId, ChainTip>,
    /// Started by the first append: a log only read (`verify`, an audit) needs none.
    checkpointer: Option<Checkpointer>,
    /// Read connection to the snapshots database, once it exists.
    snapshots: Option<Connection>,
}

impl std::fmt::Debug for SqliteLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLog").field("path", &self.conn.path()).field("cached_tips", &self.tips.len()).finish()
    }
}

impl SqliteLog {
    /// Opens or creates the log database file; WAL mode, synchronous=FULL (so COMMIT
    /// fsyncs), schema created if missing. Refuses a file whose schema version
    /// (`PRAGMA user_version`) is not one this build knows.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LogError::Unsupported(format!("journal_mode is {mode:?}, WAL is required")));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Commits must never run a checkpoint (see `crate::checkpoint`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
        let mut log =
            Self { conn, path: path.to_path_buf(), tips: HashMap::new(), checkpointer: None, snapshots: None };
        log.migrate()?;
        Ok(log)
    }

    /// A connection of its own to the snapshots database (created if missing),
    /// for a thread that writes snapshots beside the log's commits.
    pub fn snapshot_store(&self) -> Result<SqliteSnapshotStore, LogError> {
        Ok(SqliteSnapshotStore { conn: open_snapshots(&self.path)? })
    }

    /// The snapshots database, opened for reading when it exists. Never attached to
    /// the log's connection: `BEGIN IMMEDIATE` would then lock it on every commit.
    fn snapshots_db(&mut self) -> Result<Option<&Connection>, LogError> {
        if self.snapshots.is_none() && snapshots_path(&self.path).exists() {
            self.snapshots = Some(open_snapshots(&self.path)?);
        }
        Ok(self.snapshots.as_ref())
    }

    /// WAL frames seen by the last background checkpoint, and how many checkpoints ran.
    pub fn wal_status(&self) -> Option<(u64, u64)> {
        self.checkpointer.as_ref().map(|c| (c.wal_frames(), c.checkpoints()))
    }

    /// Before a batch: start the checkpoint thread if need be, and copy back the
    /// WAL's last frames when it asked for it so the next transaction restarts the WAL.
    fn before_append(&mut self) {
        if self.checkpointer.is_none() {
            match Checkpointer::spawn(&self.path) {
                Ok(c) => self.checkpointer = Some(c),
                Err(e) => {
                    // Without the thread the WAL would grow without bound: let
                    // commits checkpoint again, stalls and all.
                    tracing::warn!(error = %e, "cannot start the WAL checkpoint thread; commits will checkpoint");
                    let _ = self.conn.pragma_update(None, "wal_autocheckpoint", 1000);
                    return;
                }
            }
        }
        if let Some(c) = &self.checkpointer
            && c.take_reset_wanted()
        {
            match checkpoint(&self.conn, "PASSIVE") {
                // The background checkpoint was running: try again before the next batch.
                Ok((true, _, _)) => c.want_reset_again(),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint before a batch failed"),
            }
        }
    }

    fn migrate(&mut self) -> Result<(), LogError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        match version {
            0 => {
                tx.execute_batch(SCHEMA_V1)?;
                tx.execute_batch(SNAPSHOTS_SCHEMA)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            }
            SCHEMA_VERSION => {}
            found => {
                return Err(LogError::UnsupportedSchema { found, supported: SCHEMA_VERSION });
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Writes the whole batch inside one transaction and commits it. `touched` receives
    /// the tip of every sale with an entry in the batch, as it is after the batch.
    fn write_batch(
        conn: &mut Connection,
        committed: &HashMap<SaleId, ChainTip>,
        touched: &mut HashMap<SaleId, ChainTip>,
        entries: &[Entry],
        snapshots: &[Snapshot],
    ) -> Result<(), LogError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT_ENTRY)?;
            for entry in entries {
                let tip = match touched.entry(entry.sale) {
                    MapEntry::Occupied(slot) => slot.into_mut(),
                    MapEntry::Vacant(slot) => {
                        let tip = match committed.get(&entry.sale) {
                            Some(tip) => tip.clone(),
                            None => load_tip(&tx, entry.sale)?,
                        };
                        slot.insert(tip)
                    }
                };
                tip.accept(entry)?;
                insert.execute(params![
                    to_db(entry.sale, "sale")?,
                    to_db(entry.seq, "seq")?,
                    entry.at_us,
                    entry.payload,
                    entry.hash,
                ])?;
            }
        }
        if !snapshots.is_empty() {
            let mut entry_hash = tx.prepare_cached(SELECT_ENTRY_HASH)?;
            let mut put = tx.prepare_cached(PUT_SNAPSHOT)?;
            let mut prune = tx.prepare_cached(PRUNE_SNAPSHOTS)?;
            for snap in snapshots {
                let invalid = |reason| LogError::InvalidSnapshot { sale: snap.sale, seq: snap.seq, reason };
                let sale = to_db(snap.sale, "sale")?;
                let seq = to_db(snap.seq, "seq")?;
                let stored: Option<[u8; 32]> = entry_hash.query_row(params![sale, seq], |row| row.get(0)).optional()?;
                match stored {
                    None => return Err(invalid("the log has no entry with this seq")),
                    Some(hash) if hash != snap.hash => {
                        return Err(invalid("hash differs from the entry's hash"));
                    }
                    Some(_) => {}
                }
                put.execute(params![sale, seq, snap.hash, snap.format, snap.state])?;
                prune.execute(params![sale, SNAPSHOTS_KEPT - 1])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// The snapshots database of the log at `log`: `log.sqlite` keeps its
/// snapshots in `log.snapshots.sqlite` beside it.
pub fn snapshots_path(log: &Path) -> PathBuf {
    let stem = log.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    log.with_file_name(format!("{stem}.snapshots.sqlite"))
}

fn open_snapshots(log: &Path) -> Result<Connection, LogError> {
    let conn = Connection::open(snapshots_path(log))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let _: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    // A cache: losing the newest snapshot to a power cut only means a longer replay.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
    conn.execute_batch(SNAPSHOTS_SCHEMA)?;
    Ok(conn)
}

/// Writes snapshots into the snapshots database ([`snapshots_path`]) through a
/// connection of its own: never inside a commit of the log.
pub struct SqliteSnapshotStore {
    conn: Connection,
}

impl SnapshotStore for SqliteSnapshotStore {
    fn put(&mut self, snap: &Snapshot) -> Result<(), LogError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let sale = to_db(snap.sale, "sale")?;
            tx.prepare_cached(PUT_SNAPSHOT)?.execute(params![
                sale,
                to_db(snap.seq, "seq")?,
                snap.hash,
                snap.format,
                snap.state
            ])?;
            tx.prepare_cached(PRUNE_SNAPSHOTS)?.execute(params![sale, SNAPSHOTS_KEPT - 1])?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Copies the SQLite database at `from` into a new file `to` with SQLite's online
/// backup API, in one step: one read transaction, so the copy is one consistent
/// state of the database even while a server keeps committing to it (a `cp` of
/// the database and its WAL taken at two moments is not).
pub fn backup_database(from: &Path, to: &Path) -> Result<(), LogError> {
    if to.exists() {
        return Err(LogError::Unsupported(format!("{} exists; a backup never overwrites a file", to.display())));
    }
    // Read-write without create: a missing source is an error, not a new empty
    // database; read-only connections to a WAL database need its -shm to exist.
    let source = Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    source.busy_timeout(BUSY_TIMEOUT)?;
    let mut target = Connection::open(to)?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
        // -1: every page in one step. A copy made in several steps starts over
        // whenever another connection writes, which a busy server always does.
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => {}
            other => return Err(LogError::Unsupported(format!("the backup did not finish: {other:?}"))),
        }
    }
    // The copy is a database file of its own: fold its WAL in and fsync it, so it
    // is complete without a -wal file beside it.
    target.pragma_update(None, "journal_mode", "DELETE")?;
    target.pragma_update(None, "synchronous", "FULL")?;
    drop(target);
    Ok(())
}

/// SQLite's errors in the log's backend-neutral terms: disk trouble is `Io`,
/// a damaged file or an out-of-schema value is `Corrupt`, the rest (locks,
/// constraints, misuse) is SQLite's own `Backend` failure. Lets `?` convert
/// inside this module; nothing outside it sees a `rusqlite::Error`.
impl From<rusqlite::Error> for LogError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match &err {
            rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
                ErrorCode::SystemIoFailure | ErrorCode::DiskFull | ErrorCode::CannotOpen => {
                    LogError::Io(std::io::Error::other(err))
                }
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => LogError::Corrupt(err.to_string()),
                _ => LogError::Backend { backend: "sqlite", source: Box::new(err) },
            },
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => LogError::Corrupt(err.to_string()),
            _ => LogError::Backend { backend: "sqlite", source: Box::new(err) },
        }
    }
}

/// Converts a sale id or seq to SQLite's signed 64-bit integer.
fn to_db(value: u64, what: &'static str) -> Result<i64, LogError> {
    i64::try_from(value).map_err(|_| LogError::OutOfRange { what, value })
}

/// Reads a non-negative integer column as u64 (the schema's CHECKs guarantee the range).
fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(idx)?;
    u64::try_from(value).map_err(|err| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(err)))
}

/// Reads the committed tip of `sale` (one index seek).
fn load_tip(tx: &Transaction<'_>, sale: SaleId) -> Result<ChainTip, LogError> {
    let mut stmt = tx.prepare_cached(SELECT_TIP)?;
    let last: Option<(u64, [u8; 32])> =
        stmt.query_row(params![to_db(sale, "sale")?], |row| Ok((get_u64(row, 0)?, row.get(1)?))).optional()?;
    Ok(match last {
        None => ChainTip::genesis(sale),
        Some((seq, last_hash)) => ChainTip { sale, next_seq: seq + 1, last_hash },
    })
}

impl CommandLog for SqliteLog {
    fn append(&mut self, entries: &[Entry], snapshots: &[Snapshot]) -> Result<(), LogError> {
        if entries.is_empty() && snapshots.is_empty() {
            return Ok(());
        }
        self.before_append();
        let mut touched = HashMap::new();
        match Self::write_batch(&mut self.conn, &self.tips, &mut touched, entries, snapshots) {
            Ok(()) => {
                self.tips.extend(touched);
                if let Some(c) = &self.checkpointer {
                    c.committed();
                }
                Ok(())
            }
            Err(err) => {
                // Nothing was committed, so the cached tips are still right; but if COMMIT
                // itself failed, its outcome is uncertain: reload those tips from disk.
                for sale in touched.keys() {
                    self.tips.remove(sale);
                }
                Err(err)
            }
        }
    }

    fn snapshot_store(&mut self) -> Result<Option<Box<dyn SnapshotStore>>, LogError> {
        Ok(Some(Box::new(SqliteLog::snapshot_store(self)?)))
    }

    fn reader(&mut self) -> Result<Option<Box<dyn CommandLog>>, LogError> {
        // Never appended to, so it starts no checkpoint thread of its own.
        Ok(Some(Box::new(SqliteLog::open(&self.path)?)))
    }

    fn sales(&mut self) -> Result<Vec<SaleId>, LogError> {
        // One read transaction for a consistent view; one index seek per sale.
        let tx = self.conn.transaction()?;
        let mut sales = Vec::new();
        {
            let mut first = tx.prepare_cached(SELECT_FIRST_SALE)?;
            let mut next = tx.prepare_cached(SELECT_NEXT_SALE)?;
            let mut current: Option<i64> = first.query_row([], |row| row.get(0))?;
            while let Some(sale) = current {
                sales.push(
                    u64::try_from(sale)
                        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(0, Type::Integer, Box::new(err)))?,
                );
                current = next.query_row(params![sale], |row| row.get(0))?;
            }
        }
        tx.commit()?;
        Ok(sales)
    }

    fn latest_snapshot(&mut self, sale: SaleId) -> Result<Option<Snapshot>, LogError> {
        let Ok(db_sale) = i64::try_from(sale) else {
            return Ok(None);
        };
        let read = |conn: &Connection| -> Result<Option<Snapshot>, LogError> {
            let mut stmt = conn.prepare_cached(SELECT_LATEST_SNAPSHOT)?;
            Ok(stmt
                .query_row(params![db_sale], |row| {
                    Ok(Snapshot {
                        sale,
                        seq: get_u64(row, 0)?,
                        hash: row.get(1)?,
                        format: row.get(2)?,
                        state: row.get(3)?,
                    })
                })
                .optional()?)
        };
        let older = read(&self.conn)?;
        let newer = match self.snapshots_db()? {
            Some(conn) => read(conn)?,
            None => None,
        };
        Ok(match (older, newer) {
            (Some(a), Some(b)) => Some(if a.seq > b.seq { a } else { b }),
            (a, b) => b.or(a),
        })
    }

    fn replay(
        &mut self,
        sale: SaleId,
        from_seq: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        // Values SQLite cannot hold cannot match any stored entry.
        let (Ok(db_sale), Ok(db_from)) = (i64::try_from(sale), i64::try_from(from_seq)) else {
            return Ok(());
        };
        let mut stmt = self.conn.prepare_cached(SELECT_ENTRIES_FROM)?;
        let mut next = db_from;
        loop {
            let mut rows = stmt.query(params![db_sale, next, REPLAY_PAGE_ENTRIES])?;
            let mut read = 0;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                read += 1;
                next = seq.saturating_add(1);
                visit(Entry {
                    sale,
                    seq: get_u64(row, 0)?,
                    at_us: row.get(1)?,
                    payload: row.get(2)?,
                    hash: row.get(3)?,
                })?;
            }
            if read < REPLAY_PAGE_ENTRIES {
                return Ok(());
            }
        }
    }

    fn snapshot_marks(&mut self, sale: SaleId) -> Result<Vec<(u64, Hash)>, LogError> {
        let Ok(db_sale) = i64::try_from(sale) else {
            return Ok(Vec::new());
        };
        let read = |conn: &Connection| -> Result<Vec<(u64, Hash)>, LogError> {
            let mut stmt = conn.prepare_cached(SELECT_SNAPSHOT_MARKS)?;
            let marks = stmt
                .query_map(params![db_sale], |row| Ok((get_u64(row, 0)?, row.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(marks)
        };
        let mut marks = read(&self.conn)?;
        if let Some(conn) = self.snapshots_db()? {
            marks.extend(read(conn)?);
        }
        marks.sort_by_key(|&(seq, _)| std::cmp::Reverse(seq));
        Ok(marks)
    }

    fn entry_hash(&mut self, sale: SaleId, seq: u64) -> Result<Option<Hash>, LogError> {
        let (Ok(db_sale), Ok(db_seq)) = (i64::try_from(sale), i64::try_from(seq)) else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(SELECT_ENTRY_HASH)?;
        Ok(stmt.query_row(params![db_sale, db_seq], |row| row.get(0)).optional()?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::chain::GENESIS_HASH;

    #[test]
    fn failed_append_keeps_cached_tips_right() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SqliteLog::open(&dir.path().join("log.db")).unwrap();
        let mut tip = ChainTip::genesis(1);
        let a = tip.append(1, b"a".to_vec());
        log.append(std::slice::from_ref(&a), &[]).unwrap();
        assert_eq!(log.tips.get(&1), Some(&tip));
        let b = tip.append(2, b"b".to_vec());
        let mut bad = b.clone();
        bad.hash = GENESIS_HASH;
        assert!(log.append(&[b.clone(), bad], &[]).is_err());
        // The refused batch advanced no tip; the good entry still goes in next.
        log.append(&[b], &[]).unwrap();
        assert_eq!(log.tips.get(&1), Some(&tip));
        assert_eq!(log.verify_chain(1).unwrap().tip, tip);
    }

    #[test]
    fn commits_leave_checkpoints_to_the_thread_and_the_wal_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let mut log = SqliteLog::open(&path).unwrap();
        // A commit that checkpoints makes its whole batch wait for it.
        let autocheckpoint: i64 = log.conn.pragma_query_value(None, "wal_autocheckpoint", |row| row.get(0)).unwrap();
        assert_eq!(autocheckpoint, 0);
        let wal = dir.path().join("log.db-wal");
        let mut tip = ChainTip::genesis(1);
        let mut wal_max = 0;
        // About 21 WAL frames per batch: 1000 batches are five times the frames
        // after which the WAL restarts.
        for batch in 0..1000 {
            let entries: Vec<Entry> = (0..20).map(|i| tip.append(batch * 20 + i, vec![b'x'; 4000])).collect();
            log.append(&entries, &[]).unwrap();
            wal_max = wal_max.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        let (_, checkpoints) = log.wal_status().unwrap();
        assert!(checkpoints > 0, "no background checkpoint ran");
        let frame_bytes = 4096 + 24;
        // Unbounded, the WAL would reach about 21,000 frames here. The slack
        // above the reset point is what the writer may commit while the
        // checkpoint thread waits for a core: 2,000 frames was once exceeded
        // by 270 with the whole test suite running on two cores.
        let bound = (crate::checkpoint::WAL_RESET_FRAMES as u64 + 4000) * frame_bytes;
        assert!(wal_max <= bound, "the WAL grew to {wal_max} bytes (bound {bound})");
        assert_eq!(log.verify_chain(1).unwrap().entries, 20_000);
    }
}
