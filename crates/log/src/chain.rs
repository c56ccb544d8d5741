//! The per-sale hash chain: entries, snapshots, the chain hash and the writer's chain tip.

use crate::error::{ChainFault, LogError};

/// Identifies one sale.
pub type SaleId = u64;

/// A blake3 digest linking an entry to its predecessor.
pub type Hash = [u8; 32];

/// The "previous hash" of the first entry (seq 0) of every sale.
pub const GENESIS_HASH: Hash = [0; 32];

/// One durable command of one sale. seq starts at 0 per sale and has no gaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The sale this command belongs to.
    pub sale: SaleId,
    /// Position in the sale's chain, from 0 with no gaps.
    pub seq: u64,
    /// When the command was accepted, microseconds since the Unix epoch.
    pub at_us: i64,
    /// Opaque command bytes, encoded by the engine.
    pub payload: Vec<u8>,
    /// `chain_hash(previous entry's hash or GENESIS_HASH, sale, seq, at_us, payload)`.
    pub hash: Hash,
}

/// Computes the hash of an entry from the hash of its predecessor:
/// `blake3(prev || sale (u64 LE) || seq (u64 LE) || at_us (i64 LE) || payload_len (u64 LE) || payload)`.
pub fn chain_hash(prev: &Hash, sale: SaleId, seq: u64, at_us: i64, payload: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(prev);
    hasher.update(&sale.to_le_bytes());
    hasher.update(&seq.to_le_bytes());
    hasher.update(&at_us.to_le_bytes());
    // usize -> u64 is lossless on every supported target.
    hasher.update(&(payload.len() as u64).to_le_bytes());
    hasher.update(payload);
    *hasher.finalize().as_bytes()
}

/// The tip of one sale's chain, kept by the sale's single writer to build the next entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainTip {
    /// The sale of this chain.
    pub sale: SaleId,
    /// The seq the next entry will have (= number of entries so far).
    pub next_seq: u64,
    /// The hash of the last entry, or `GENESIS_HASH` when there is none.
    pub last_hash: Hash,
}

impl ChainTip {
    /// The tip of a sale that has no entry yet.
    pub fn genesis(sale: SaleId) -> Self {
        Self { sale, next_seq: 0, last_hash: GENESIS_HASH }
    }

    /// Builds the next entry (computes its hash) and advances the tip.
    pub fn append(&mut self, at_us: i64, payload: Vec<u8>) -> Entry {
        let seq = self.next_seq;
        let hash = chain_hash(&self.last_hash, self.sale, seq, at_us, &payload);
        self.next_seq += 1;
        self.last_hash = hash;
        Entry { sale: self.sale, seq, at_us, payload, hash }
    }

    /// Checks `entry` is the next link (sale, seq and hash) and advances;
    /// `Err(LogError::ChainBroken{..})` otherwise, leaving the tip unchanged.
    pub fn accept(&mut self, entry: &Entry) -> Result<(), LogError> {
        let broken = |fault| LogError::ChainBroken { sale: self.sale, seq: entry.seq, fault };
        if entry.sale != self.sale {
            return Err(broken(ChainFault::WrongSale { found: entry.sale }));
        }
        if entry.seq != self.next_seq {
            return Err(broken(ChainFault::SeqMismatch { expected: self.next_seq }));
        }
        let expected = chain_hash(&self.last_hash, entry.sale, entry.seq, entry.at_us, &entry.payload);
        if expected != entry.hash {
            return Err(broken(ChainFault::HashMismatch));
        }
        self.next_seq += 1;
        self.last_hash = entry.hash;
        Ok(())
    }
}

/// A disposable cache of a sale's state after entry `seq` (whose hash is `hash`).
/// `format` is a version number chosen by the engine; the log stores it opaquely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The sale.
    pub sale: SaleId,
    /// The seq of the last entry folded into `state`.
    pub seq: u64,
    /// The hash of that entry.
    pub hash: Hash,
    /// Engine-chosen encoding version of `state`.
    pub format: u32,
    /// Opaque encoded state.
    pub state: Vec<u8>,
}

impl Snapshot {
    /// The chain tip right after the entry this snapshot was taken at: replay continues
    /// from `seq + 1` by `accept`ing onto it.
    pub fn tip(&self) -> ChainTip {
        ChainTip { sale: self.sale, next_seq: self.seq + 1, last_hash: self.hash }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn build(sale: SaleId, n: u64) -> Vec<Entry> {
        let mut tip = ChainTip::genesis(sale);
        (0..n).map(|i| tip.append(1_000 + i as i64, format!("cmd {i}").into_bytes())).collect()
    }

    #[test]
    fn append_then_accept_round_trips() {
        let entries = build(7, 5);
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert_eq!(entries[0].hash, chain_hash(&GENESIS_HASH, 7, 0, 1_000, b"cmd 0"));
        assert_eq!(entries[1].hash, chain_hash(&entries[0].hash, 7, 1, 1_001, b"cmd 1"));
        let mut verifier = ChainTip::genesis(7);
        for entry in &entries {
            verifier.accept(entry).unwrap();
        }
        assert_eq!(verifier.next_seq, 5);
        assert_eq!(verifier.last_hash, entries[4].hash);
    }

    #[test]
    fn hash_covers_every_field_and_the_payload_boundary() {
        let base = chain_hash(&GENESIS_HASH, 1, 2, 3, b"ab");
        assert_ne!(base, chain_hash(&[1; 32], 1, 2, 3, b"ab"));
        assert_ne!(base, chain_hash(&GENESIS_HASH, 9, 2, 3, b"ab"));
        assert_ne!(base, chain_hash(&GENESIS_HASH, 1, 9, 3, b"ab"));
        assert_ne!(base, chain_hash(&GENESIS_HASH, 1, 2, 9, b"ab"));
        assert_ne!(base, chain_hash(&GENESIS_HASH, 1, 2, 3, b"ac"));
        assert_ne!(base, chain_hash(&GENESIS_HASH, 1, 2, 3, b"a"));
        assert_eq!(base, chain_hash(&GENESIS_HASH, 1, 2, 3, b"ab"));
    }

    fn assert_rejected(tampered: &[Entry], want_seq: u64, want: ChainFault) {
        let mut verifier = ChainTip::genesis(7);
        for (accepted, entry) in tampered.iter().enumerate() {
            match verifier.accept(entry) {
                Ok(()) => {}
                Err(LogError::ChainBroken { sale, seq, fault }) => {
                    assert_eq!((sale, seq, fault), (7, want_seq, want));
                    // The tip did not advance past the bad link.
                    assert_eq!(verifier.next_seq, accepted as u64);
                    return;
                }
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        panic!("tampered chain was accepted");
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let mut entries = build(7, 4);
        entries[2].payload[0] ^= 1;
        assert_rejected(&entries, 2, ChainFault::HashMismatch);
    }

    #[test]
    fn tampered_at_us_is_rejected() {
        let mut entries = build(7, 4);
        entries[1].at_us += 1;
        assert_rejected(&entries, 1, ChainFault::HashMismatch);
    }

    #[test]
    fn tampered_hash_is_rejected() {
        let mut entries = build(7, 4);
        entries[3].hash[31] ^= 0x80;
        assert_rejected(&entries, 3, ChainFault::HashMismatch);
    }

    #[test]
    fn tampered_seq_is_rejected() {
        let mut entries = build(7, 4);
        entries[2].seq = 3;
        assert_rejected(&entries, 3, ChainFault::SeqMismatch { expected: 2 });
    }

    #[test]
    fn gap_and_duplicate_are_rejected() {
        let entries = build(7, 4);
        let gap = [entries[0].clone(), entries[2].clone()];
        assert_rejected(&gap, 2, ChainFault::SeqMismatch { expected: 1 });
        let dup = [entries[0].clone(), entries[1].clone(), entries[1].clone()];
        assert_rejected(&dup, 1, ChainFault::SeqMismatch { expected: 2 });
    }

    #[test]
    fn entry_of_another_sale_is_rejected() {
        let other = build(8, 1);
        let mut verifier = ChainTip::genesis(7);
        let err = verifier.accept(&other[0]).unwrap_err();
        assert!(matches!(err, LogError::ChainBroken { sale: 7, seq: 0, fault: ChainFault::WrongSale { found: 8 } }));
        assert_eq!(verifier, ChainTip::genesis(7));
    }

    #[test]
    fn snapshot_tip_continues_the_chain() {
        let entries = build(7, 3);
        let snap = Snapshot { sale: 7, seq: 1, hash: entries[1].hash, format: 1, state: vec![] };
        let mut tip = snap.tip();
        tip.accept(&entries[2]).unwrap();
        assert_eq!(tip.next_seq, 3);
    }
}
