//! The SQLite backend of the command log: one database file in WAL mode with
//! `synchronous=FULL`, one `BEGIN IMMEDIATE ... COMMIT` per append.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::chain::{ChainTip, Entry, SaleId, Snapshot};
use crate::command_log::CommandLog;
use crate::error::LogError;

/// The schema version this build writes and understands (stored in `PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many snapshots are kept per sale (the newest ones).
const SNAPSHOTS_KEPT_PER_SALE: i64 = 2;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS entries (
    sale    INTEGER NOT NULL CHECK (sale >= 0),
    seq     INTEGER NOT NULL CHECK (seq >= 0),
    at_us   INTEGER NOT NULL,
    payload BLOB    NOT NULL,
    hash    BLOB    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (sale, seq)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS snapshots (
    sale   INTEGER NOT NULL CHECK (sale >= 0),
    seq    INTEGER NOT NULL CHECK (seq >= 0),
    hash   BLOB    NOT NULL CHECK (length(hash) = 32),
    format INTEGER NOT NULL CHECK (format BETWEEN 0 AND 4294967295),
    state  BLOB    NOT NULL,
    PRIMARY KEY (sale, seq)
) STRICT;
";

const INSERT_ENTRY: &str = "INSERT INTO entries (sale, seq, at_us, payload, hash) VALUES (?1, ?2, ?3, ?4, ?5)";
const SELECT_TIP: &str = "SELECT seq, hash FROM entries WHERE sale = ?1 ORDER BY seq DESC LIMIT 1";
const SELECT_ENTRY_HASH: &str = "SELECT hash FROM entries WHERE sale = ?1 AND seq = ?2";
const PUT_SNAPSHOT: &str = "INSERT OR REPLACE INTO snapshots (sale, seq, hash, format, state) \
     VALUES (?1, ?2, ?3, ?4, ?5)";
const PRUNE_SNAPSHOTS: &str = "DELETE FROM snapshots WHERE sale = ?1 AND seq < \
     (SELECT seq FROM snapshots WHERE sale = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)";
const SELECT_LATEST_SNAPSHOT: &str = "SELECT seq, hash, format, state FROM snapshots \
     WHERE sale = ?1 ORDER BY seq DESC LIMIT 1";
const SELECT_FIRST_SALE: &str = "SELECT MIN(sale) FROM entries";
const SELECT_NEXT_SALE: &str = "SELECT MIN(sale) FROM entries WHERE sale > ?1";
const SELECT_ENTRIES_FROM: &str = "SELECT seq, at_us, payload, hash FROM entries \
     WHERE sale = ?1 AND seq >= ?2 ORDER BY seq";

/// The SQLite command log.
///
/// Keeps the committed tip of every sale it has appended to, so `append` checks chain
/// continuity without reading the database; hence it must be the only writer of its file.
pub struct SqliteLog {
    conn: Connection,
    /// Committed tip of each sale touched by `append` so far, loaded lazily.
    tips: HashMap<SaleId, ChainTip>,
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
        let mut log = Self { conn, tips: HashMap::new() };
        log.migrate()?;
        Ok(log)
    }

    fn migrate(&mut self) -> Result<(), LogError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        match version {
            0 => {
                tx.execute_batch(SCHEMA_V1)?;
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
                prune.execute(params![sale, SNAPSHOTS_KEPT_PER_SALE - 1])?;
            }
        }
        tx.commit()?;
        Ok(())
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
        let mut touched = HashMap::new();
        match Self::write_batch(&mut self.conn, &self.tips, &mut touched, entries, snapshots) {
            Ok(()) => {
                self.tips.extend(touched);
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
        let mut stmt = self.conn.prepare_cached(SELECT_LATEST_SNAPSHOT)?;
        let snapshot = stmt
            .query_row(params![db_sale], |row| {
                Ok(Snapshot { sale, seq: get_u64(row, 0)?, hash: row.get(1)?, format: row.get(2)?, state: row.get(3)? })
            })
            .optional()?;
        Ok(snapshot)
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
        let mut rows = stmt.query(params![db_sale, db_from])?;
        while let Some(row) = rows.next()? {
            visit(Entry { sale, seq: get_u64(row, 0)?, at_us: row.get(1)?, payload: row.get(2)?, hash: row.get(3)? })?;
        }
        Ok(())
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
}
