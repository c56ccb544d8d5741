//! The SQLite schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes the database from version `i` to `i + 1`. Each runs
//! in its own transaction together with the version bump, so a crash leaves
//! the file at a whole version. Never edit a released migration; append.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

const MIGRATIONS: &[&str] = &[
    // 0 -> 1: accounts, API tokens, browser sessions.
    "
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        email         TEXT    NOT NULL UNIQUE,
        name          TEXT    NOT NULL,
        role          TEXT    NOT NULL CHECK (role IN ('participant', 'organizer', 'admin')),
        password_hash TEXT,                 -- argon2id PHC string; NULL for bulk users
        created_us    INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id         INTEGER PRIMARY KEY,
        hash       BLOB    NOT NULL UNIQUE, -- sha256(token); the token itself is never stored
        user_id    INTEGER NOT NULL REFERENCES users (id),
        label      TEXT    NOT NULL,
        created_us INTEGER NOT NULL
    );
    CREATE INDEX tokens_by_user ON tokens (user_id);
    CREATE TABLE sessions (
        id         INTEGER PRIMARY KEY,
        hash       BLOB    NOT NULL UNIQUE, -- sha256(cookie value)
        user_id    INTEGER NOT NULL REFERENCES users (id),
        csrf_token TEXT    NOT NULL,        -- useless without the cookie
        created_us INTEGER NOT NULL,
        expires_us INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_user ON sessions (user_id, id);
    CREATE INDEX sessions_by_expiry ON sessions (expires_us);
    ",
    // 1 -> 2: friend requests and friendships (MISSION A5).
    //
    // A friendship is stored as two rows, (a, b) and (b, a), written and
    // deleted together in one transaction: listing or counting one person's
    // friends is then a prefix scan of the primary key. A pair never has a
    // friendship and a pending request at the same time: the transaction that
    // makes the friendship deletes the requests. WITHOUT ROWID: the rows are
    // nothing but their keys.
    "
    CREATE TABLE friend_requests (
        from_id    INTEGER NOT NULL REFERENCES users (id),
        to_id      INTEGER NOT NULL REFERENCES users (id),
        created_us INTEGER NOT NULL,
        PRIMARY KEY (from_id, to_id),
        CHECK (from_id <> to_id)
    ) WITHOUT ROWID;
    CREATE INDEX friend_requests_to ON friend_requests (to_id, created_us);
    CREATE TABLE friends (
        user_id   INTEGER NOT NULL REFERENCES users (id),
        friend_id INTEGER NOT NULL REFERENCES users (id),
        since_us  INTEGER NOT NULL,
        PRIMARY KEY (user_id, friend_id),
        CHECK (user_id <> friend_id)
    ) WITHOUT ROWID;
    ",
    // 2 -> 3: organizers' venue library (issue #4).
    //
    // `venue` is the venue's JSON (the core's `Venue`, the import/export
    // format), validated before it was written; name, seats and sections are
    // copied out of it so listing never parses a multi-megabyte document.
    // AUTOINCREMENT: a deleted venue's id never names another venue later.
    // `owner_id` has no foreign key: the operator's admin token (id 0) is no
    // account but may own venues, as it owns sales.
    "
    CREATE TABLE venues (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        owner_id   INTEGER NOT NULL,
        name       TEXT    NOT NULL,
        seats      INTEGER NOT NULL,
        sections   INTEGER NOT NULL,
        venue      TEXT    NOT NULL,
        created_us INTEGER NOT NULL
    );
    CREATE INDEX venues_by_owner ON venues (owner_id, id);
    ",
    // 3 -> 4: API tokens may expire (issue #9). NULL: until revoked.
    "
    ALTER TABLE tokens ADD COLUMN expires_us INTEGER;
    ",
    // 4 -> 5: staff of a sale, who may run its gates (issue #13). `sale` is
    // the engine's sale number (sales live in the log, not here);
    // `added_by` has no foreign key for the same reason as `venues.owner_id`.
    "
    CREATE TABLE staff (
        sale     INTEGER NOT NULL,
        user_id  INTEGER NOT NULL REFERENCES users (id),
        added_by INTEGER NOT NULL,
        since_us INTEGER NOT NULL,
        PRIMARY KEY (sale, user_id)
    ) WITHOUT ROWID;
    ",
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Sets connection pragmas and brings the schema up to [`LATEST`].
pub(crate) fn prepare(conn: &mut Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // WAL for file databases (an in-memory database answers "memory").
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    // Accounts are written rarely; make every acknowledged write survive power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < 0 {
            return Err(StoreError::Corrupt(format!("negative user_version {version}")));
        }
        if version > LATEST {
            return Err(StoreError::SchemaTooNew { found: version, supported: LATEST });
        }
        let Some(sql) = usize::try_from(version).ok().and_then(|v| MIGRATIONS.get(v)) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
