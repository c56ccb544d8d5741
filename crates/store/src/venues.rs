//! The organizers' venue library (issue #4): venues kept for reuse, so a
//! 50,000-seat stadium is drawn or imported once and then named by id when
//! a seated sale is created.
//!
//! A venue is stored as the JSON of the core's [`Venue`] (the import and
//! export format), after [`Venue::validate`] passed, next to copies of its
//! name, seat count and section count for listings. Reading a venue back
//! parses that JSON (a few milliseconds for a stadium's 2-3 MB); listing
//! never does. Parsing and encoding happen outside the connection lock.
//!
//! Every method touches SQLite and belongs in `spawn_blocking`.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use stampede_core::Venue;

use crate::store::{db_id, user_id};
use crate::{Store, StoreError, UserId};

/// Venues one owner may keep. A stored venue is at most a few megabytes, so
/// this bounds one organizer's share of the database.
pub const MAX_VENUES_PER_OWNER: usize = 200;
/// Most venues [`Store::all_venues`] lists (oldest first).
pub const MAX_VENUES_LISTED: usize = 10_000;

/// A stored venue's id (never reused, even after a delete).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VenueId(pub u64);

impl std::fmt::Display for VenueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a listing shows of a stored venue: everything but its seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueSummary {
    pub id: VenueId,
    /// Who stored it (id 0 is the operator's admin token).
    pub owner: UserId,
    pub name: String,
    pub seats: u32,
    pub sections: u32,
    /// When it was stored (microseconds since the Unix epoch).
    pub created_us: i64,
}

const SUMMARY_COLUMNS: &str = "id, owner_id, name, seats, sections, created_us";

fn venue_db_id(id: VenueId) -> Option<i64> {
    i64::try_from(id.0).ok()
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn summary(r: &Row<'_>) -> Result<VenueSummary, StoreError> {
    let id: i64 = r.get(0)?;
    let seats: i64 = r.get(3)?;
    let sections: i64 = r.get(4)?;
    let corrupt = || StoreError::Corrupt(format!("venue {id}: bad counts"));
    Ok(VenueSummary {
        id: VenueId(u64::try_from(id).map_err(|_| corrupt())?),
        owner: user_id(r.get(1)?)?,
        name: r.get(2)?,
        seats: u32::try_from(seats).map_err(|_| corrupt())?,
        sections: u32::try_from(sections).map_err(|_| corrupt())?,
        created_us: r.get(5)?,
    })
}

impl Store {
    /// Validates `venue` and stores it for `owner`. Refused with
    /// [`StoreError::InvalidVenue`] (the reason) or, when `owner` already has
    /// [`MAX_VENUES_PER_OWNER`], [`StoreError::TooManyVenues`]. The owner is
    /// taken as given (the operator, id 0, has no account).
    pub fn create_venue(&self, owner: UserId, venue: &Venue) -> Result<VenueSummary, StoreError> {
        venue.validate().map_err(|e| StoreError::InvalidVenue(e.reason))?;
        let o = db_id(owner)?;
        let seats = u32::try_from(venue.seat_count()).map_err(|_| StoreError::InvalidVenue("too many seats".into()))?;
        let sections =
            u32::try_from(venue.sections.len()).map_err(|_| StoreError::InvalidVenue("too many sections".into()))?;
        let json =
            serde_json::to_string(venue).map_err(|e| StoreError::Corrupt(format!("cannot encode venue: {e}")))?;
        let now = self.now_us();
        let mut conn = self.inner.conn.lock();
        // IMMEDIATE: the count and the insert are one decision.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM venues WHERE owner_id = ?1", [o], |r| r.get(0))?;
        if n >= count(MAX_VENUES_PER_OWNER) {
            return Err(StoreError::TooManyVenues { max: MAX_VENUES_PER_OWNER });
        }
        tx.execute(
            "INSERT INTO venues (owner_id, name, seats, sections, venue, created_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![o, venue.name, seats, sections, json, now],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        let id = u64::try_from(id).map_err(|_| StoreError::Corrupt(format!("negative venue id {id}")))?;
        Ok(VenueSummary { id: VenueId(id), owner, name: venue.name.clone(), seats, sections, created_us: now })
    }

    /// A stored venue's summary (no seats; cheap), e.g. to check its owner.
    pub fn venue_summary(&self, id: VenueId) -> Result<Option<VenueSummary>, StoreError> {
        let Some(v) = venue_db_id(id) else { return Ok(None) };
        let conn = self.inner.conn.lock();
        let mut stmt = conn.prepare(&format!("SELECT {SUMMARY_COLUMNS} FROM venues WHERE id = ?1"))?;
        let mut rows = stmt.query([v])?;
        rows.next()?.map(summary).transpose()
    }

    /// A stored venue's owner and its JSON exactly as stored: the export
    /// format, with no parsing.
    pub fn venue_json(&self, id: VenueId) -> Result<Option<(UserId, String)>, StoreError> {
        let Some(v) = venue_db_id(id) else { return Ok(None) };
        let row = {
            let conn = self.inner.conn.lock();
            conn.query_row("SELECT owner_id, venue FROM venues WHERE id = ?1", [v], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
        };
        row.map(|(owner, json)| Ok((user_id(owner)?, json))).transpose()
    }

    /// A stored venue and its owner.
    pub fn venue(&self, id: VenueId) -> Result<Option<(UserId, Venue)>, StoreError> {
        let Some((owner, json)) = self.venue_json(id)? else { return Ok(None) };
        let venue = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("venue {id}: {e}")))?;
        Ok(Some((owner, venue)))
    }

    /// `owner`'s venues (at most [`MAX_VENUES_PER_OWNER`]), oldest first.
    pub fn venues_of(&self, owner: UserId) -> Result<Vec<VenueSummary>, StoreError> {
        let o = db_id(owner)?;
        self.venue_summaries("WHERE owner_id = ?1 ORDER BY id LIMIT ?2", params![o, count(MAX_VENUES_PER_OWNER)])
    }

    /// Everybody's venues, oldest first, at most [`MAX_VENUES_LISTED`] (for admins).
    pub fn all_venues(&self) -> Result<Vec<VenueSummary>, StoreError> {
        self.venue_summaries("ORDER BY id LIMIT ?1", params![count(MAX_VENUES_LISTED)])
    }

    fn venue_summaries(&self, tail: &str, args: impl rusqlite::Params) -> Result<Vec<VenueSummary>, StoreError> {
        let conn = self.inner.conn.lock();
        let mut stmt = conn.prepare(&format!("SELECT {SUMMARY_COLUMNS} FROM venues {tail}"))?;
        let mut rows = stmt.query(args)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(summary(r)?);
        }
        Ok(out)
    }

    /// Deletes a stored venue; [`StoreError::UnknownVenue`] when there is
    /// none. Sales made from it keep their own copy and are not touched.
    pub fn delete_venue(&self, id: VenueId) -> Result<(), StoreError> {
        let v = venue_db_id(id).ok_or(StoreError::UnknownVenue)?;
        let conn = self.inner.conn.lock();
        if conn.execute("DELETE FROM venues WHERE id = ?1", [v])? == 0 {
            return Err(StoreError::UnknownVenue);
        }
        Ok(())
    }
}
