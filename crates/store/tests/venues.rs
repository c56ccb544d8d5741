//! Behaviour tests for the venue library: a 50,000-seat stadium stored and
//! read back unchanged, listings, deletion, owners kept apart, the
//! per-owner limit, refusals that store nothing, and the migration.

use stampede_core::{SectionSpec, Venue, generate};
use stampede_store::{MAX_VENUES_PER_OWNER, Store, StoreError, UserId, VenueId};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn spec(name: &str, rows: u32, seats: u32, curve: f64) -> SectionSpec {
    SectionSpec {
        name: name.into(),
        tier: "R".into(),
        price: 50_000,
        colour: "#3366cc".into(),
        rows,
        seats_per_row: seats,
        x: 0,
        y: 0,
        curve_degrees: curve,
        spacing: 10,
    }
}

/// 40 sections × 25 rows × 50 seats, every other section curved.
fn stadium() -> Result<Venue, StoreError> {
    let specs: Vec<_> = (0..40)
        .map(|i| SectionSpec {
            x: (i % 8) * 600,
            y: (i / 8) * 400,
            ..spec(&format!("S{i}"), 25, 50, if i % 2 == 0 { 60.0 } else { 0.0 })
        })
        .collect();
    generate("Stadium", &specs).map_err(|e| StoreError::InvalidVenue(e.reason))
}

fn small(name: &str) -> Result<Venue, StoreError> {
    generate(name, &[spec("A", 2, 3, 0.0)]).map_err(|e| StoreError::InvalidVenue(e.reason))
}

#[test]
fn a_stadium_round_trips_and_is_listed_and_deleted() -> TestResult {
    let store = Store::open_in_memory()?;
    let owner = UserId(7);
    let venue = stadium()?;
    assert_eq!(venue.seat_count(), 50_000);

    let summary = store.create_venue(owner, &venue)?;
    assert_eq!(summary.owner, owner);
    assert_eq!(summary.name, "Stadium");
    assert_eq!(summary.seats, 50_000);
    assert_eq!(summary.sections, 40);
    assert!(summary.created_us > 0);

    let (got_owner, got) = store.venue(summary.id)?.ok_or("stored venue not found")?;
    assert_eq!(got_owner, owner);
    assert_eq!(got, venue, "read back unchanged");
    let (_, json) = store.venue_json(summary.id)?.ok_or("stored venue not found")?;
    assert_eq!(json, serde_json::to_string(&venue)?, "the export is the venue's JSON");
    assert_eq!(store.venue_summary(summary.id)?, Some(summary.clone()));

    assert_eq!(store.venues_of(owner)?, vec![summary.clone()]);
    assert_eq!(store.all_venues()?, vec![summary.clone()]);

    store.delete_venue(summary.id)?;
    assert!(store.venue(summary.id)?.is_none());
    assert!(store.venue_json(summary.id)?.is_none());
    assert!(store.venues_of(owner)?.is_empty());
    assert!(matches!(store.delete_venue(summary.id), Err(StoreError::UnknownVenue)));
    Ok(())
}

#[test]
fn owners_see_only_their_own_and_ids_are_never_reused() -> TestResult {
    let store = Store::open_in_memory()?;
    let (kim, lee) = (UserId(1), UserId(2));
    let a = store.create_venue(kim, &small("Kim's hall")?)?;
    let b = store.create_venue(lee, &small("Lee's hall")?)?;
    let c = store.create_venue(kim, &small("Kim's club")?)?;
    assert_eq!(store.venues_of(kim)?, vec![a.clone(), c.clone()]);
    assert_eq!(store.venues_of(lee)?, vec![b.clone()]);
    assert!(store.venues_of(UserId(3))?.is_empty());
    assert_eq!(store.all_venues()?, vec![a, b, c.clone()]);
    assert_eq!(store.venue(c.id)?.map(|(o, _)| o), Some(kim));

    // The newest id is deleted; the next venue gets a fresh one.
    store.delete_venue(c.id)?;
    let d = store.create_venue(kim, &small("Kim's tent")?)?;
    assert!(d.id > c.id, "{} after {}", d.id, c.id);
    assert!(store.venue(VenueId(u64::MAX))?.is_none());
    assert!(store.venue(VenueId(999))?.is_none());
    Ok(())
}

#[test]
fn at_most_200_venues_per_owner() -> TestResult {
    let store = Store::open_in_memory()?;
    let (full, other) = (UserId(1), UserId(2));
    let venue = small("Hall")?;
    let mut last = None;
    for _ in 0..MAX_VENUES_PER_OWNER {
        last = Some(store.create_venue(full, &venue)?);
    }
    assert!(matches!(store.create_venue(full, &venue), Err(StoreError::TooManyVenues { max: MAX_VENUES_PER_OWNER })));
    assert_eq!(store.venues_of(full)?.len(), MAX_VENUES_PER_OWNER);
    store.create_venue(other, &venue)?;
    // Deleting one frees a place.
    store.delete_venue(last.ok_or("no venue")?.id)?;
    store.create_venue(full, &venue)?;
    assert_eq!(store.venues_of(full)?.len(), MAX_VENUES_PER_OWNER);
    Ok(())
}

#[test]
fn an_invalid_venue_is_refused_with_the_reason_and_nothing_is_stored() -> TestResult {
    let store = Store::open_in_memory()?;
    let mut venue = small("Hall")?;
    venue.sections[0].colour = "red".into();
    match store.create_venue(UserId(1), &venue) {
        Err(StoreError::InvalidVenue(reason)) => assert!(reason.contains("colour"), "{reason}"),
        other => return Err(format!("expected InvalidVenue, got {other:?}").into()),
    }
    let empty = Venue { name: "Empty".into(), sections: Vec::new() };
    assert!(matches!(store.create_venue(UserId(1), &empty), Err(StoreError::InvalidVenue(_))));
    assert!(store.all_venues()?.is_empty());
    Ok(())
}

#[test]
fn venues_survive_a_reopen_and_a_version_2_file_gains_the_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("accounts.db");
    let (user, token) = Store::open(&path)?.bulk_create(1, "old")?.remove(0);
    {
        let store = Store::open(&path)?;
        let v = store.create_venue(user.id, &small("Hall")?)?;
        drop(store);
        let store = Store::open(&path)?;
        assert_eq!(store.venues_of(user.id)?, vec![v]);
    }
    // Turn the file back into what a version-2 build wrote.
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "DROP TABLE staff; DROP TABLE venues; ALTER TABLE tokens DROP COLUMN expires_us; PRAGMA user_version = 2;",
        )?;
    }
    let store = Store::open(&path)?;
    assert_eq!(store.bearer(&token).map(|a| a.id), Some(user.id), "accounts are kept");
    assert!(store.venues_of(user.id)?.is_empty());
    store.create_venue(user.id, &small("Hall")?)?;
    drop(store);
    let conn = rusqlite::Connection::open(&path)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, 5);
    Ok(())
}
