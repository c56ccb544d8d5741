//! Behaviour tests for a sale's staff: naming is idempotent, staff of one
//! sale are not staff of another, the per-sale limit, removal, and staff
//! kept across a reopen (the in-memory set is rebuilt from SQLite).

use stampede_store::{MAX_STAFF_PER_SALE, Store, StoreError, User, UserId};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn people(store: &Store, count: u32, prefix: &str) -> Result<Vec<User>, StoreError> {
    Ok(store.bulk_create(count, prefix)?.into_iter().map(|(u, _)| u).collect())
}

#[test]
fn staff_of_one_sale_are_not_staff_of_another_and_removal_takes_effect() -> TestResult {
    let store = Store::open_in_memory()?;
    let p = people(&store, 3, "staff")?;
    let (organizer, kim, lee) = (p[0].id, p[1].id, p[2].id);
    assert!(store.add_staff(7, kim, organizer)?, "a new member");
    assert!(!store.add_staff(7, kim, organizer)?, "naming them again changes nothing");
    assert!(store.is_staff(7, kim));
    assert!(!store.is_staff(8, kim), "another sale");
    assert!(!store.is_staff(7, lee), "another person");
    let listed = store.staff_of(7)?;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].person.id, listed[0].added_by), (kim, organizer));
    assert!(store.staff_of(8)?.is_empty());

    store.remove_staff(7, kim)?;
    assert!(!store.is_staff(7, kim));
    assert!(matches!(store.remove_staff(7, kim), Err(StoreError::NotStaff)));
    assert!(matches!(store.add_staff(7, UserId(999_999), organizer), Err(StoreError::UnknownUser)));
    Ok(())
}

#[test]
fn a_sale_has_at_most_the_staff_limit() -> TestResult {
    let store = Store::open_in_memory()?;
    let p = people(&store, u32::try_from(MAX_STAFF_PER_SALE)? + 1, "many")?;
    for u in &p[..MAX_STAFF_PER_SALE] {
        store.add_staff(1, u.id, UserId(0))?;
    }
    let last = p[MAX_STAFF_PER_SALE].id;
    assert!(matches!(store.add_staff(1, last, UserId(0)), Err(StoreError::TooManyStaff { max: MAX_STAFF_PER_SALE })));
    assert!(!store.is_staff(1, last), "a refusal adds nothing");
    assert_eq!(store.staff_of(1)?.len(), MAX_STAFF_PER_SALE);
    // Someone already on the list may be named again at the limit, and another sale has room.
    assert!(!store.add_staff(1, p[0].id, UserId(0))?);
    assert!(store.add_staff(2, last, UserId(0))?);
    Ok(())
}

#[test]
fn staff_survive_a_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("accounts.db");
    let kim = {
        let store = Store::open(&path)?;
        let kim = people(&store, 1, "kept")?.remove(0).id;
        store.add_staff(3, kim, UserId(0))?;
        kim
    };
    let store = Store::open(&path)?;
    assert!(store.is_staff(3, kim), "the set is loaded from the file");
    Ok(())
}
