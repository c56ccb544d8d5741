//! The chain hash checked from its documented definition, not from the code
//! that computes it: every test here builds the preimage byte by byte, as
//! `chain.rs` documents it, and hashes it with blake3 itself:
//!
//! `blake3(prev || sale (u64 LE) || seq (u64 LE) || at_us (i64 LE) || payload_len (u64 LE) || payload)`,
//! with `prev` 32 zero bytes for a sale's first entry.
//!
//! The other tests build their expected entries with the crate's own
//! `ChainTip`, so a wrong definition there would agree with itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stampede_log::{ChainFault, ChainTip, CommandLog, Entry, GENESIS_HASH, LogError, MemoryLog, SqliteLog, chain_hash};

/// The documented preimage, assembled here.
fn preimage(prev: &[u8; 32], sale: u64, seq: u64, at_us: i64, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32 + 8 * 4 + payload.len());
    bytes.extend_from_slice(prev);
    bytes.extend_from_slice(&sale.to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&at_us.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fn documented_hash(prev: &[u8; 32], sale: u64, seq: u64, at_us: i64, payload: &[u8]) -> [u8; 32] {
    *blake3::hash(&preimage(prev, sale, seq, at_us, payload)).as_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Entries of sale 9 whose hashes are computed here, never by the crate.
fn documented_chain() -> Vec<Entry> {
    let payloads: [&[u8]; 4] = [b"{\"t\":\"create\"}", b"", b"\x00\xff binary", &[7u8; 300]];
    let mut prev = [0u8; 32];
    payloads
        .iter()
        .enumerate()
        .map(|(seq, payload)| {
            let seq = seq as u64;
            // Negative and large times too: at_us is signed.
            let at_us = [-5i64, 0, 1_800_000_000_000_000, i64::MAX][seq as usize];
            let hash = documented_hash(&prev, 9, seq, at_us, payload);
            prev = hash;
            Entry { sale: 9, seq, at_us, payload: payload.to_vec(), hash }
        })
        .collect()
}

#[test]
fn the_genesis_hash_is_32_zero_bytes() {
    assert_eq!(GENESIS_HASH, [0u8; 32]);
}

#[test]
fn the_crate_computes_the_documented_hash() {
    for entry in documented_chain() {
        let prev = if entry.seq == 0 { [0u8; 32] } else { documented_chain()[entry.seq as usize - 1].hash };
        assert_eq!(
            hex(&chain_hash(&prev, entry.sale, entry.seq, entry.at_us, &entry.payload)),
            hex(&entry.hash),
            "seq {}",
            entry.seq
        );
    }
    // And the writer's tip builds the same entries.
    let mut tip = ChainTip::genesis(9);
    for entry in documented_chain() {
        assert_eq!(tip.append(entry.at_us, entry.payload.clone()), entry);
    }
}

#[test]
fn a_hash_by_another_reading_of_the_definition_is_refused() {
    // Big-endian numbers, no length prefix, the fields in another order:
    // each is a plausible mistake, and none may pass for a link.
    let be = |prev: &[u8; 32], p: &[u8]| {
        let mut b = prev.to_vec();
        b.extend_from_slice(&9u64.to_be_bytes());
        b.extend_from_slice(&0u64.to_be_bytes());
        b.extend_from_slice(&5i64.to_be_bytes());
        b.extend_from_slice(&(p.len() as u64).to_be_bytes());
        b.extend_from_slice(p);
        b
    };
    let unprefixed = |prev: &[u8; 32], p: &[u8]| {
        let mut b = preimage(prev, 9, 0, 5, p);
        b.drain(56..64);
        b
    };
    let swapped = |prev: &[u8; 32], p: &[u8]| {
        let mut b = preimage(prev, 9, 0, 5, p);
        b[32..48].rotate_left(8);
        b
    };
    let payload = b"hello".as_slice();
    let good = Entry {
        sale: 9,
        seq: 0,
        at_us: 5,
        payload: payload.to_vec(),
        hash: documented_hash(&GENESIS_HASH, 9, 0, 5, payload),
    };
    for build in [&be as &dyn Fn(&[u8; 32], &[u8]) -> Vec<u8>, &unprefixed, &swapped] {
        let wrong = *blake3::hash(&build(&GENESIS_HASH, payload)).as_bytes();
        assert_ne!(wrong, good.hash);
        let entry = Entry { hash: wrong, ..good.clone() };
        let mut log = MemoryLog::new();
        match log.append(std::slice::from_ref(&entry), &[]) {
            Err(LogError::ChainBroken { sale: 9, seq: 0, fault: ChainFault::HashMismatch }) => {}
            other => panic!("a hash of another preimage was {other:?}"),
        }
        log.append(std::slice::from_ref(&good), &[]).unwrap();
    }
}

/// Appends the documented chain, reads it back, and checks every stored
/// hash and the verified tip against the preimage computed here.
fn stores_and_verifies_the_documented_chain(log: &mut dyn CommandLog) {
    let chain = documented_chain();
    log.append(&chain, &[]).expect("entries hashed by the documented definition are accepted");
    let mut prev = [0u8; 32];
    let mut read = 0;
    log.replay(9, 0, &mut |e| {
        assert_eq!(e.hash, documented_hash(&prev, e.sale, e.seq, e.at_us, &e.payload), "seq {}", e.seq);
        prev = e.hash;
        read += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(read, chain.len());
    let report = log.verify_chain(9).unwrap();
    assert_eq!((report.entries, report.tip.last_hash), (chain.len() as u64, prev));

    // The next link must start from the stored last hash.
    let next =
        Entry { sale: 9, seq: 4, at_us: 6, payload: b"next".to_vec(), hash: documented_hash(&prev, 9, 4, 6, b"next") };
    let unlinked = Entry { hash: documented_hash(&GENESIS_HASH, 9, 4, 6, b"next"), ..next.clone() };
    assert!(matches!(
        log.append(std::slice::from_ref(&unlinked), &[]),
        Err(LogError::ChainBroken { seq: 4, fault: ChainFault::HashMismatch, .. })
    ));
    log.append(&[next], &[]).unwrap();
}

#[test]
fn the_memory_log_keeps_the_documented_chain() {
    stores_and_verifies_the_documented_chain(&mut MemoryLog::new());
}

#[test]
fn the_sqlite_log_keeps_the_documented_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    stores_and_verifies_the_documented_chain(&mut SqliteLog::open(&path).unwrap());
    // What is in the file, read without the crate.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut prev = [0u8; 32];
    let mut stmt =
        conn.prepare("SELECT sale, seq, at_us, payload, hash FROM entries WHERE sale = 9 ORDER BY seq").unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })
        .unwrap();
    let mut n = 0;
    for row in rows {
        let (sale, seq, at_us, payload, hash) = row.unwrap();
        let want = documented_hash(&prev, sale as u64, seq as u64, at_us, &payload);
        assert_eq!(hex(&hash), hex(&want), "row seq {seq}");
        prev = want;
        n += 1;
    }
    assert_eq!(n, 5);
}
