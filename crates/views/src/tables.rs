//! The projection tables in SQLite (`views.sqlite` beside the log): schema,
//! applying folded changes, the queries pages and the API read, and a
//! canonical dump for comparing two builds of the tables.
//!
//! Every write goes through [`Views::apply`], which applies a run of one
//! sale's entries and moves that sale's cursor (the next seq to apply) in the
//! same transaction: after a crash the tables and the cursor agree, so the
//! projector resumes from the cursor and never applies an entry twice.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use stampede_core::{HoldStatus, SaleStatus};
use stampede_engine::events::{EntryEvents, SaleEvents};
use stampede_log::SaleId;

use crate::fold::{
    Change, ClickRow, ConflictRow, Contribution, HoldKind, HoldRow, SaleStats, SeatRow, TicketRow, TicketState, fold,
    histogram_bucket, place_columns,
};
use stampede_core::{SeatId, TicketPlace};

/// Bumped when the tables change shape: older tables are then dropped and
/// rebuilt from the log (they are caches of it).
pub const VIEWS_SCHEMA_VERSION: i64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ViewsError {
    #[error("views database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("sale {sale}: entry {got} arrived while {expected} is the next to apply")]
    Gap { sale: SaleId, expected: u64, got: u64 },
    #[error("a stored value is out of range: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Replay(#[from] stampede_engine::replay::ReplayError),
    #[error(transparent)]
    Log(#[from] stampede_log::LogError),
    #[error("views file: {0}")]
    Io(String),
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cursors (
    sale INTEGER PRIMARY KEY,
    next_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS holds (
    sale INTEGER NOT NULL,
    id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    booker INTEGER NOT NULL,
    status TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    PRIMARY KEY (sale, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holds_by_booker ON holds (booker, sale, id);
CREATE TABLE IF NOT EXISTS hold_seats (
    sale INTEGER NOT NULL,
    hold INTEGER NOT NULL,
    released INTEGER NOT NULL,
    position INTEGER NOT NULL,
    seat INTEGER NOT NULL,
    holder INTEGER NOT NULL,
    price INTEGER NOT NULL,
    PRIMARY KEY (sale, hold, released, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hold_seats_by_holder ON hold_seats (holder, sale, hold);
CREATE TABLE IF NOT EXISTS sale_stats (
    sale INTEGER PRIMARY KEY,
    status TEXT,
    status_at_us INTEGER,
    held INTEGER NOT NULL,
    sold INTEGER NOT NULL,
    revenue INTEGER NOT NULL,
    refunds INTEGER NOT NULL,
    refunded_amount INTEGER NOT NULL,
    clicks INTEGER NOT NULL,
    won INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS clicks (
    sale INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    person INTEGER NOT NULL,
    won INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    after_open_us INTEGER NOT NULL,
    PRIMARY KEY (sale, rank)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS click_histogram (
    sale INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    clicks INTEGER NOT NULL,
    PRIMARY KEY (sale, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tickets (
    sale INTEGER NOT NULL,
    ticket INTEGER NOT NULL,
    order_id INTEGER NOT NULL,
    place_kind TEXT NOT NULL,
    place INTEGER NOT NULL,
    holder INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    state TEXT NOT NULL,
    issued_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL,
    gate INTEGER,
    offline INTEGER NOT NULL,
    PRIMARY KEY (sale, ticket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tickets_by_holder ON tickets (holder, sale, ticket);
CREATE INDEX IF NOT EXISTS tickets_by_order ON tickets (sale, order_id, ticket);
CREATE TABLE IF NOT EXISTS ticket_conflicts (
    sale INTEGER NOT NULL,
    gate INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    ticket INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    holder INTEGER NOT NULL,
    reason TEXT NOT NULL,
    scanned_at_us INTEGER NOT NULL,
    synced_at_us INTEGER NOT NULL,
    PRIMARY KEY (sale, gate, nonce)
) WITHOUT ROWID;
";

/// Every table with its key order, for [`Views::dump`].
const TABLES: [(&str, &str); 8] = [
    ("cursors", "sale"),
    ("holds", "sale, id"),
    ("hold_seats", "sale, hold, released, position"),
    ("sale_stats", "sale"),
    ("clicks", "sale, rank"),
    ("click_histogram", "sale, bucket"),
    ("tickets", "sale, ticket"),
    ("ticket_conflicts", "sale, gate, nonce"),
];

// Amounts and ids are u64; SQLite integers are i64. They are stored as the
// same 64 bits (`as`), which round-trips every value exactly.
fn u(v: u64) -> i64 {
    v as i64
}

fn back(v: i64) -> u64 {
    v as u64
}

fn status_name(s: HoldStatus) -> &'static str {
    s.as_str()
}

fn parse_status(s: &str) -> Result<HoldStatus, ViewsError> {
    Ok(match s {
        "held" => HoldStatus::Held,
        "confirmed" => HoldStatus::Confirmed,
        "cancelled" => HoldStatus::Cancelled,
        "expired" => HoldStatus::Expired,
        "refunded" => HoldStatus::Refunded,
        other => return Err(ViewsError::Corrupt(format!("hold status {other:?}"))),
    })
}

/// A connection to the projection tables.
pub struct Views {
    conn: Connection,
}

impl Views {
    /// Opens (or creates) the tables at `path`. Tables of another schema
    /// version are dropped: the projector rebuilds them from the log.
    pub fn open(path: &Path) -> Result<Views, ViewsError> {
        let conn = Connection::open(path)?;
        // WAL: readers (requests) never block the projector, nor it them.
        // NORMAL: a power cut may lose the newest transactions, never tear
        // one; the cursor goes back with its rows and the log is replayed again.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // The per-person index of holds is written at random places; pages it
        // needs again should still be in memory (SQLite's default is 2 MiB).
        conn.pragma_update(None, "cache_size", -32_768)?;
        Self::init(conn)
    }

    /// Tables in memory, for tests and models.
    pub fn in_memory() -> Result<Views, ViewsError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Views, ViewsError> {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version != VIEWS_SCHEMA_VERSION {
            conn.execute_batch(
                "DROP TABLE IF EXISTS cursors; DROP TABLE IF EXISTS holds; DROP TABLE IF EXISTS hold_seats;
                 DROP TABLE IF EXISTS sale_stats; DROP TABLE IF EXISTS clicks; DROP TABLE IF EXISTS click_histogram;
                 DROP TABLE IF EXISTS tickets; DROP TABLE IF EXISTS ticket_conflicts;",
            )?;
            conn.execute_batch(SCHEMA)?;
            conn.pragma_update(None, "user_version", VIEWS_SCHEMA_VERSION)?;
        }
        Ok(Views { conn })
    }

    /// Copies the WAL back into the database file and empties it, so the file
    /// alone holds the tables (before it is moved into place).
    pub fn checkpoint(&self) -> Result<(), ViewsError> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The next seq of `sale` to apply (0: nothing applied yet).
    pub fn next_seq(&self, sale: SaleId) -> Result<u64, ViewsError> {
        let next: Option<i64> =
            self.conn.query_row("SELECT next_seq FROM cursors WHERE sale = ?1", [u(sale)], |r| r.get(0)).optional()?;
        Ok(next.map_or(0, back))
    }

    /// Applies consecutive entries of one sale in one transaction, skipping
    /// those already applied, and moves the sale's cursor with them. An entry
    /// after a gap is refused ([`ViewsError::Gap`]): fill it from the log first.
    /// Returns the sale's next seq.
    pub fn apply(&mut self, sale: SaleId, entries: &[EntryEvents]) -> Result<u64, ViewsError> {
        let tx = self.conn.transaction()?;
        let applied = apply_in(&tx, sale, entries)?;
        if let Some((expected, got)) = applied.gap {
            // Dropping the transaction rolls the whole call back.
            return Err(ViewsError::Gap { sale, expected, got });
        }
        tx.commit()?;
        Ok(applied.next)
    }

    /// Applies many published batches (of any sales, in publication order)
    /// in one transaction: under a rush one commit per batch cost the
    /// projector more than its rows. A sale whose batch does not follow its
    /// cursor keeps what came before the gap and is returned, to be caught up
    /// from the log; its later batches in the group are left to that catch-up.
    pub fn apply_group(&mut self, batches: &[Arc<SaleEvents>]) -> Result<Vec<SaleId>, ViewsError> {
        // Each sale's entries in publication order, so its cursor and its
        // statistics row are read and written once per group, not per batch.
        // Sales are independent of each other, so their order does not matter.
        let mut sales: std::collections::BTreeMap<SaleId, Vec<&EntryEvents>> = std::collections::BTreeMap::new();
        for batch in batches {
            sales.entry(batch.sale).or_default().extend(&batch.entries);
        }
        let tx = self.conn.transaction()?;
        let mut gaps: Vec<SaleId> = Vec::new();
        for (sale, entries) in sales {
            if apply_in(&tx, sale, entries)?.gap.is_some() {
                gaps.push(sale);
            }
        }
        tx.commit()?;
        Ok(gaps)
    }

    /// Every row of every table in key order, one line each: two builds of the
    /// projections are the same exactly when their dumps are.
    pub fn dump(&self) -> Result<String, ViewsError> {
        let mut out = String::new();
        for (table, key) in TABLES {
            let _ = writeln!(out, "# {table}");
            let mut stmt = self.conn.prepare(&format!("SELECT * FROM {table} ORDER BY {key}"))?;
            let columns = stmt.column_count();
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let mut line = Vec::with_capacity(columns);
                for i in 0..columns {
                    line.push(match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        rusqlite::types::ValueRef::Real(v) => v.to_string(),
                        rusqlite::types::ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                        rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                    });
                }
                let _ = writeln!(out, "{}", line.join("|"));
            }
        }
        Ok(out)
    }

    fn hold_rows(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<HoldRow>, ViewsError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let raw = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    [r.get::<_, i64>(8)?, r.get::<_, i64>(9)?, r.get::<_, i64>(10)?],
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|(sale, id, kind, booker, status, quantity, unit_price, amount, [created, expires, updated])| {
                Ok(HoldRow {
                    sale: back(sale),
                    id: back(id),
                    kind: HoldKind::parse(&kind).ok_or_else(|| ViewsError::Corrupt(format!("hold kind {kind:?}")))?,
                    booker: back(booker),
                    status: parse_status(&status)?,
                    quantity: u32::try_from(quantity).map_err(|_| ViewsError::Corrupt("quantity".into()))?,
                    unit_price: back(unit_price),
                    amount: back(amount),
                    created_at_us: created,
                    expires_at_us: expires,
                    updated_at_us: updated,
                })
            })
            .collect()
    }

    /// A person's stock holds or orders in every sale, by sale then number.
    pub fn stock_holds_of(&self, booker: u64, statuses: &[HoldStatus]) -> Result<Vec<HoldRow>, ViewsError> {
        let rows = self.hold_rows(
            &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE booker = ?1 AND kind = 'stock' ORDER BY sale, id"),
            &[&u(booker)],
        )?;
        Ok(rows.into_iter().filter(|h| statuses.contains(&h.status)).collect())
    }

    /// Seat holds and orders a person booked or has a seat in, with their seats.
    pub fn seat_holds_of(&self, person: u64) -> Result<Vec<(HoldRow, Vec<SeatRow>)>, ViewsError> {
        let rows = self.hold_rows(
            &format!(
                "SELECT {HOLD_COLUMNS} FROM holds WHERE kind = 'seats' AND (booker = ?1 OR EXISTS (
                     SELECT 1 FROM hold_seats s WHERE s.sale = holds.sale AND s.hold = holds.id
                     AND s.holder = ?1 AND s.released = 0))
                 ORDER BY sale, id"
            ),
            &[&u(person)],
        )?;
        rows.into_iter()
            .map(|h| {
                let seats = self.seats_of_hold(h.sale, h.id)?;
                Ok((h, seats))
            })
            .collect()
    }

    /// One hold by its sale and number.
    pub fn hold(&self, sale: SaleId, id: u64) -> Result<Option<(HoldRow, Vec<SeatRow>)>, ViewsError> {
        let mut rows = self
            .hold_rows(&format!("SELECT {HOLD_COLUMNS} FROM holds WHERE sale = ?1 AND id = ?2"), &[&u(sale), &u(id)])?;
        match rows.pop() {
            Some(h) => {
                let seats = self.seats_of_hold(sale, id)?;
                Ok(Some((h, seats)))
            }
            None => Ok(None),
        }
    }

    /// Holds of one sale in number order after `after`, at most `limit`,
    /// optionally only those with `status`.
    pub fn holds_of_sale(
        &self,
        sale: SaleId,
        after: u64,
        limit: usize,
        status: Option<HoldStatus>,
    ) -> Result<Vec<HoldRow>, ViewsError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Ids are stored as the same 64 bits in SQLite's signed integers; an
        // `after` past i64::MAX would compare as negative, and no id is after it.
        if i64::try_from(after).is_err() {
            return Ok(Vec::new());
        }
        match status {
            None => self.hold_rows(
                &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE sale = ?1 AND id > ?2 ORDER BY id LIMIT ?3"),
                &[&u(sale), &u(after), &limit],
            ),
            Some(s) => self.hold_rows(
                &format!(
                    "SELECT {HOLD_COLUMNS} FROM holds WHERE sale = ?1 AND id > ?2 AND status = ?4 ORDER BY id LIMIT ?3"
                ),
                &[&u(sale), &u(after), &limit, &status_name(s)],
            ),
        }
    }

    fn ticket_rows(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<TicketRow>, ViewsError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let raw = stmt
            .query_map(args, |r| {
                Ok((
                    [r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?],
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    [r.get::<_, i64>(8)?, r.get::<_, i64>(9)?],
                    r.get::<_, Option<i64>>(10)?,
                    r.get::<_, i64>(11)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|([sale, ticket, order], kind, place, holder, generation, state, [issued, changed], gate, offline)| {
                let place = u32::try_from(place).map_err(|_| ViewsError::Corrupt("ticket place".into()))?;
                Ok(TicketRow {
                    sale: back(sale),
                    ticket: back(ticket),
                    order: back(order),
                    place: match kind.as_str() {
                        "unit" => TicketPlace::Unit(place),
                        "seat" => TicketPlace::Seat(SeatId(place)),
                        other => return Err(ViewsError::Corrupt(format!("ticket place kind {other:?}"))),
                    },
                    holder: back(holder),
                    generation: u32::try_from(generation).map_err(|_| ViewsError::Corrupt("generation".into()))?,
                    state: TicketState::parse(&state)
                        .ok_or_else(|| ViewsError::Corrupt(format!("ticket state {state:?}")))?,
                    issued_at_us: issued,
                    changed_at_us: changed,
                    gate: gate.map(back),
                    offline: offline != 0,
                })
            })
            .collect()
    }

    /// The tickets a person holds now (any state), newest sale first.
    pub fn tickets_of(&self, holder: u64) -> Result<Vec<TicketRow>, ViewsError> {
        self.ticket_rows(
            &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE holder = ?1 ORDER BY sale DESC, ticket"),
            &[&u(holder)],
        )
    }

    /// One ticket by its sale and number.
    pub fn ticket(&self, sale: SaleId, ticket: u64) -> Result<Option<TicketRow>, ViewsError> {
        let mut rows = self.ticket_rows(
            &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE sale = ?1 AND ticket = ?2"),
            &[&u(sale), &u(ticket)],
        )?;
        Ok(rows.pop())
    }

    /// A sale's tickets with a revoked generation (refunded, or transferred),
    /// in number order: its revocation list.
    pub fn revoked_tickets(&self, sale: SaleId) -> Result<Vec<TicketRow>, ViewsError> {
        self.ticket_rows(
            &format!(
                "SELECT {TICKET_COLUMNS} FROM tickets WHERE sale = ?1 AND (state = 'revoked' OR generation > 1)
                 ORDER BY ticket"
            ),
            &[&u(sale)],
        )
    }

    /// The tickets of one order, in number order.
    pub fn tickets_of_order(&self, sale: SaleId, order: u64) -> Result<Vec<TicketRow>, ViewsError> {
        self.ticket_rows(
            &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE sale = ?1 AND order_id = ?2 ORDER BY ticket"),
            &[&u(sale), &u(order)],
        )
    }

    /// A sale's check-in progress: tickets that may go in or went in, and those let in.
    pub fn checkin_progress(&self, sale: SaleId) -> Result<(u64, u64), ViewsError> {
        let (live, admitted): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*) FILTER (WHERE state != 'revoked'), COUNT(*) FILTER (WHERE state = 'admitted')
             FROM tickets WHERE sale = ?1",
            [u(sale)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((back(live), back(admitted)))
    }

    /// Offline admissions of a sale that should not have happened, in the order synced.
    pub fn conflicts_of(&self, sale: SaleId) -> Result<Vec<ConflictRow>, ViewsError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT gate, nonce, ticket, generation, holder, reason, scanned_at_us, synced_at_us
             FROM ticket_conflicts WHERE sale = ?1 ORDER BY synced_at_us, gate, nonce LIMIT 1000",
        )?;
        let rows = stmt
            .query_map([u(sale)], |r| {
                Ok(ConflictRow {
                    sale,
                    gate: back(r.get(0)?),
                    nonce: back(r.get(1)?),
                    ticket: back(r.get(2)?),
                    generation: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
                    holder: back(r.get(4)?),
                    reason: r.get(5)?,
                    scanned_at_us: r.get(6)?,
                    synced_at_us: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn seats_of_hold(&self, sale: SaleId, hold: u64) -> Result<Vec<SeatRow>, ViewsError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT released, position, seat, holder, price FROM hold_seats WHERE sale = ?1 AND hold = ?2
             ORDER BY released, position",
        )?;
        let rows = stmt
            .query_map(params![u(sale), u(hold)], |r| {
                Ok(SeatRow {
                    released: r.get::<_, i64>(0)? != 0,
                    position: u32::try_from(r.get::<_, i64>(1)?).unwrap_or(u32::MAX),
                    seat: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(u32::MAX),
                    holder: back(r.get(3)?),
                    price: back(r.get(4)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// A sale's figures, and its status as of the newest change the log made to it.
    pub fn stats(&self, sale: SaleId) -> Result<(SaleStats, Option<(SaleStatus, i64)>), ViewsError> {
        let row = self
            .conn
            .query_row(
                "SELECT held, sold, revenue, refunds, refunded_amount, clicks, won, status, status_at_us
                 FROM sale_stats WHERE sale = ?1",
                [u(sale)],
                |r| Ok((stats_of(r)?, r.get::<_, Option<String>>(7)?, r.get::<_, Option<i64>>(8)?)),
            )
            .optional()?;
        let Some((stats, status, at)) = row else { return Ok((SaleStats::default(), None)) };
        let status = match status.as_deref() {
            Some("scheduled") => Some(SaleStatus::Scheduled),
            Some("open") => Some(SaleStatus::Open),
            Some("closed") => Some(SaleStatus::Closed),
            _ => None,
        };
        Ok((stats, status.zip(at)))
    }

    /// A drop's clicks in rank order from `offset`, at most `limit`; `won_only`
    /// keeps the winners.
    pub fn clicks(
        &self,
        sale: SaleId,
        offset: usize,
        limit: usize,
        won_only: bool,
    ) -> Result<Vec<ClickRow>, ViewsError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rank, person, won, at_us, after_open_us FROM clicks WHERE sale = ?1 AND (won = 1 OR ?4 = 0)
             ORDER BY rank LIMIT ?3 OFFSET ?2",
        )?;
        let rows = stmt
            .query_map(
                params![
                    u(sale),
                    i64::try_from(offset).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    i64::from(won_only)
                ],
                |r| {
                    Ok(ClickRow {
                        sale,
                        rank: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                        person: back(r.get(1)?),
                        won: r.get::<_, i64>(2)? != 0,
                        at_us: r.get(3)?,
                        after_open_us: r.get(4)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The click-time histogram of a drop over all its clicks: (bar, clicks),
    /// bars of [`crate::fold::HISTOGRAM_BUCKET_US`] from the opening.
    pub fn histogram(&self, sale: SaleId) -> Result<Vec<(u32, u64)>, ViewsError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT bucket, clicks FROM click_histogram WHERE sale = ?1 ORDER BY bucket")?;
        let rows = stmt
            .query_map([u(sale)], |r| Ok((u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX), back(r.get(1)?))))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

const TICKET_COLUMNS: &str = "sale, ticket, order_id, place_kind, place, holder, generation, state, issued_at_us,
     changed_at_us, gate, offline";

const HOLD_COLUMNS: &str =
    "sale, id, kind, booker, status, quantity, unit_price, amount, created_at_us, expires_at_us, updated_at_us";

/// A sale's counts from the first seven columns of a `sale_stats` query
/// (`held, sold, revenue, refunds, refunded_amount, clicks, won`).
fn stats_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<SaleStats> {
    Ok(SaleStats {
        held: back(r.get(0)?),
        sold: back(r.get(1)?),
        revenue: back(r.get(2)?),
        refunds: back(r.get(3)?),
        refunded_amount: back(r.get(4)?),
        clicks: back(r.get(5)?),
        won: back(r.get(6)?),
    })
}

fn stats_row(tx: &rusqlite::Transaction<'_>, sale: SaleId) -> Result<SaleStats, ViewsError> {
    Ok(tx
        .prepare_cached(
            "SELECT held, sold, revenue, refunds, refunded_amount, clicks, won FROM sale_stats WHERE sale = ?1",
        )?
        .query_row([u(sale)], stats_of)
        .optional()?
        .unwrap_or_default())
}

fn put_stats(tx: &rusqlite::Transaction<'_>, sale: SaleId, s: &SaleStats) -> Result<(), ViewsError> {
    tx.prepare_cached(
        "INSERT INTO sale_stats (sale, held, sold, revenue, refunds, refunded_amount, clicks, won)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (sale) DO UPDATE SET held = excluded.held, sold = excluded.sold, revenue = excluded.revenue,
             refunds = excluded.refunds, refunded_amount = excluded.refunded_amount, clicks = excluded.clicks,
             won = excluded.won",
    )?
    .execute(params![
        u(sale),
        u(s.held),
        u(s.sold),
        u(s.revenue),
        u(s.refunds),
        u(s.refunded_amount),
        u(s.clicks),
        u(s.won)
    ])?;
    Ok(())
}

/// What [`apply_in`] did: the sale's next seq, and the gap it stopped at.
struct AppliedTo {
    next: u64,
    gap: Option<(u64, u64)>,
}

/// Applies consecutive entries of one sale inside `tx` and moves its cursor
/// with them; stops at a gap, keeping what came before it.
fn apply_in<'e>(
    tx: &rusqlite::Transaction<'_>,
    sale: SaleId,
    entries: impl IntoIterator<Item = &'e EntryEvents>,
) -> Result<AppliedTo, ViewsError> {
    let mut next: u64 = tx
        .prepare_cached("SELECT next_seq FROM cursors WHERE sale = ?1")?
        .query_row([u(sale)], |r| r.get::<_, i64>(0))
        .optional()?
        .map_or(0, back);
    let start = next;
    let mut stats = StatsCache::default();
    let mut gap = None;
    for entry in entries {
        if entry.seq < next {
            continue;
        }
        if entry.seq > next {
            gap = Some((next, entry.seq));
            break;
        }
        for change in fold(sale, entry) {
            apply_change(tx, sale, change, &mut stats)?;
        }
        next = entry.seq + 1;
    }
    stats.flush(tx, sale)?;
    if next != start {
        tx.prepare_cached(
            "INSERT INTO cursors (sale, next_seq) VALUES (?1, ?2)
             ON CONFLICT (sale) DO UPDATE SET next_seq = excluded.next_seq",
        )?
        .execute(params![u(sale), u(next)])?;
    }
    Ok(AppliedTo { next, gap })
}

/// The sale's statistics row, read at most once per transaction and written
/// once at its end: every hold change moves it, and reading and writing it per
/// change cost the projector more than the hold rows themselves.
#[derive(Default)]
struct StatsCache {
    row: Option<SaleStats>,
    dirty: bool,
}

impl StatsCache {
    fn get(&mut self, tx: &rusqlite::Transaction<'_>, sale: SaleId) -> Result<&mut SaleStats, ViewsError> {
        let row = match self.row.take() {
            Some(row) => row,
            None => stats_row(tx, sale)?,
        };
        self.dirty = true;
        Ok(self.row.insert(row))
    }

    fn flush(&mut self, tx: &rusqlite::Transaction<'_>, sale: SaleId) -> Result<(), ViewsError> {
        if let (Some(row), true) = (&self.row, self.dirty) {
            put_stats(tx, sale, row)?;
            self.dirty = false;
        }
        Ok(())
    }
}

fn apply_change(
    tx: &rusqlite::Transaction<'_>,
    sale: SaleId,
    change: Change,
    stats: &mut StatsCache,
) -> Result<(), ViewsError> {
    match change {
        Change::Hold { row, new } => {
            let old = if new {
                None
            } else {
                tx.prepare_cached("SELECT status, quantity, amount FROM holds WHERE sale = ?1 AND id = ?2")?
                    .query_row(params![u(sale), u(row.id)], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    })
                    .optional()?
            };
            let old = match old {
                Some((status, quantity, amount)) => Contribution::of(&HoldRow {
                    status: parse_status(&status)?,
                    quantity: u32::try_from(quantity).map_err(|_| ViewsError::Corrupt("quantity".into()))?,
                    amount: back(amount),
                    ..row.clone()
                }),
                None => Contribution::default(),
            };
            stats.get(tx, sale)?.replace(old, Contribution::of(&row));
            tx.prepare_cached(
                "INSERT OR REPLACE INTO holds (sale, id, kind, booker, status, quantity, unit_price, amount,
                     created_at_us, expires_at_us, updated_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                u(sale),
                u(row.id),
                row.kind.as_str(),
                u(row.booker),
                status_name(row.status),
                i64::from(row.quantity),
                u(row.unit_price),
                u(row.amount),
                row.created_at_us,
                row.expires_at_us,
                row.updated_at_us
            ])?;
        }
        Change::HoldSeats { sale, hold, seats } => {
            tx.prepare_cached("DELETE FROM hold_seats WHERE sale = ?1 AND hold = ?2")?
                .execute(params![u(sale), u(hold)])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO hold_seats (sale, hold, released, position, seat, holder, price)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for s in seats {
                insert.execute(params![
                    u(sale),
                    u(hold),
                    i64::from(s.released),
                    i64::from(s.position),
                    i64::from(s.seat),
                    u(s.holder),
                    u(s.price)
                ])?;
            }
        }
        Change::TicketIssued(t) => {
            let (kind, place) = place_columns(t.place);
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tickets (sale, ticket, order_id, place_kind, place, holder, generation, state,
                     issued_at_us, changed_at_us, gate, offline)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                u(sale),
                u(t.ticket),
                u(t.order),
                kind,
                i64::from(place),
                u(t.holder),
                i64::from(t.generation),
                t.state.as_str(),
                t.issued_at_us,
                t.changed_at_us,
                t.gate.map(u),
                i64::from(t.offline)
            ])?;
        }
        Change::TicketTransferred { ticket, holder, generation, at_us } => {
            tx.prepare_cached(
                "UPDATE tickets SET holder = ?3, generation = ?4, changed_at_us = ?5 WHERE sale = ?1 AND ticket = ?2",
            )?
            .execute(params![u(sale), u(ticket), u(holder), i64::from(generation), at_us])?;
        }
        Change::TicketRevoked { ticket, at_us } => {
            tx.prepare_cached(
                "UPDATE tickets SET state = 'revoked', changed_at_us = ?3 WHERE sale = ?1 AND ticket = ?2",
            )?
            .execute(params![u(sale), u(ticket), at_us])?;
        }
        Change::TicketAdmitted { ticket, gate, offline, at_us } => {
            tx.prepare_cached(
                "UPDATE tickets SET state = 'admitted', changed_at_us = ?3, gate = ?4, offline = ?5
                 WHERE sale = ?1 AND ticket = ?2",
            )?
            .execute(params![u(sale), u(ticket), at_us, u(gate), i64::from(offline)])?;
        }
        Change::TicketConflict(c) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO ticket_conflicts (sale, gate, nonce, ticket, generation, holder, reason,
                     scanned_at_us, synced_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                u(sale),
                u(c.gate),
                u(c.nonce),
                u(c.ticket),
                i64::from(c.generation),
                u(c.holder),
                c.reason,
                c.scanned_at_us,
                c.synced_at_us
            ])?;
        }
        Change::Click(c) => {
            stats.get(tx, sale)?.add_click(c.won);
            tx.prepare_cached(
                "INSERT INTO clicks (sale, rank, person, won, at_us, after_open_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                u(sale),
                i64::from(c.rank),
                u(c.person),
                i64::from(c.won),
                c.at_us,
                c.after_open_us
            ])?;
            tx.prepare_cached(
                "INSERT INTO click_histogram (sale, bucket, clicks) VALUES (?1, ?2, 1)
                 ON CONFLICT (sale, bucket) DO UPDATE SET clicks = clicks + 1",
            )?
            .execute(params![u(sale), i64::from(histogram_bucket(c.after_open_us))])?;
        }
        Change::Status { sale, status, at_us } => {
            // The row must exist (with what is counted so far) before its status is set.
            stats.get(tx, sale)?;
            stats.flush(tx, sale)?;
            tx.prepare_cached("UPDATE sale_stats SET status = ?2, status_at_us = ?3 WHERE sale = ?1")?
                .execute(params![u(sale), status.as_str(), at_us])?;
        }
    }
    Ok(())
}
