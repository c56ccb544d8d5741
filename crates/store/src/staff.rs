//! Staff of a sale (issue 13, check-in): the accounts an organizer names to
//! run a sale's gates. Being staff of one sale lets a person scan tickets,
//! fetch the offline kit and sync an offline gate for that sale only; it
//! gives no other right, in that sale or any other.
//!
//! [`Store::is_staff`] is on every scan's path, so it reads only the
//! in-memory set ([`crate::index::Index::staff`]); naming and removing staff
//! write SQLite first (one small transaction with `synchronous=FULL`: call
//! them from `spawn_blocking`), then the set.
//!
//! Sales live in the engine's log, not here, so a staff row names its sale
//! by number with no foreign key; users are checked to exist.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::store::{db_id, user_id};
use crate::{Person, Store, StoreError, UserId};

/// Staff accounts one sale may have. A gate is a phone at a door; fifty
/// doors is a stadium. Bounds the list a dashboard draws and the set's memory.
pub const MAX_STAFF_PER_SALE: usize = 50;

/// One staff member of a sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffMember {
    /// Who (id and display name; no e-mail address).
    pub person: Person,
    /// Who named them (the organizer, an admin, or 0 for the operator token).
    pub added_by: UserId,
    /// When (microseconds since the Unix epoch).
    pub since_us: i64,
}

/// Sale numbers come from the engine, which never gets near 2^63.
fn sale_db_id(sale: u64) -> Result<i64, StoreError> {
    i64::try_from(sale).map_err(|_| StoreError::Corrupt(format!("sale number {sale} out of range")))
}

/// Loads every staff row into the index when the store opens.
pub(crate) fn load_staff(conn: &rusqlite::Connection, index: &mut crate::index::Index) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("SELECT sale, user_id FROM staff")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let sale: i64 = r.get(0)?;
        let sale = u64::try_from(sale).map_err(|_| StoreError::Corrupt(format!("negative sale {sale}")))?;
        index.staff.insert((sale, user_id(r.get(1)?)?));
    }
    Ok(())
}

impl Store {
    /// Names `user` staff of `sale`. Naming someone who is staff already
    /// changes nothing and answers `false` (so a retried request is
    /// harmless); a new member answers `true`. Refused with
    /// [`StoreError::UnknownUser`] and [`StoreError::TooManyStaff`].
    pub fn add_staff(&self, sale: u64, user: UserId, added_by: UserId) -> Result<bool, StoreError> {
        let s = sale_db_id(sale)?;
        let u = db_id(user)?;
        let by = db_id(added_by)?;
        let now = self.now_us();
        let mut conn = self.inner.conn.lock();
        self.require_users(&[user])?;
        // IMMEDIATE: the count and the insert are one decision.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = tx
            .query_row("SELECT 1 FROM staff WHERE sale = ?1 AND user_id = ?2", [s, u], |_| Ok(()))
            .optional()?
            .is_some();
        if exists {
            return Ok(false);
        }
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM staff WHERE sale = ?1", [s], |r| r.get(0))?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= MAX_STAFF_PER_SALE {
            return Err(StoreError::TooManyStaff { max: MAX_STAFF_PER_SALE });
        }
        tx.execute(
            "INSERT INTO staff (sale, user_id, added_by, since_us) VALUES (?1, ?2, ?3, ?4)",
            params![s, u, by, now],
        )?;
        tx.commit()?;
        self.inner.index.write().staff.insert((sale, user));
        Ok(true)
    }

    /// Removes `user` from `sale`'s staff: from the next request on, they
    /// can no longer run its gates. [`StoreError::NotStaff`] when they were not.
    pub fn remove_staff(&self, sale: u64, user: UserId) -> Result<(), StoreError> {
        let s = sale_db_id(sale)?;
        let u = db_id(user).map_err(|_| StoreError::NotStaff)?;
        let conn = self.inner.conn.lock();
        if conn.execute("DELETE FROM staff WHERE sale = ?1 AND user_id = ?2", [s, u])? == 0 {
            return Err(StoreError::NotStaff);
        }
        self.inner.index.write().staff.remove(&(sale, user));
        Ok(())
    }

    /// `sale`'s staff, in the order they were named (at most [`MAX_STAFF_PER_SALE`]).
    pub fn staff_of(&self, sale: u64) -> Result<Vec<StaffMember>, StoreError> {
        let s = sale_db_id(sale)?;
        let conn = self.inner.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT staff.user_id, users.name, staff.added_by, staff.since_us
             FROM staff JOIN users ON users.id = staff.user_id
             WHERE staff.sale = ?1 ORDER BY staff.since_us, staff.user_id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![s, i64::try_from(MAX_STAFF_PER_SALE).unwrap_or(i64::MAX)])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(StaffMember {
                person: Person { id: user_id(r.get(0)?)?, name: r.get(1)? },
                added_by: user_id(r.get(2)?)?,
                since_us: r.get(3)?,
            });
        }
        Ok(out)
    }

    /// Whether `user` is staff of `sale`. Memory only: on the scan path.
    pub fn is_staff(&self, sale: u64, user: UserId) -> bool {
        self.inner.index.read().staff.contains(&(sale, user))
    }
}
