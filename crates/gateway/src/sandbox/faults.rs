//! The sandbox's misbehaviour, decided from the seed.
//!
//! Each decision is a hash of the seed and the thing it is about (a payment
//! key, a payment's version), not a draw from one random stream: the same
//! seed gives the same declines, duplicates and reorders however concurrent
//! requests happen to interleave.

use sha2::{Digest, Sha256};

/// What to break, in percent (0 to 100).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultRates {
    /// Confirmations declined by the "card company".
    pub decline_pct: u8,
    /// Webhooks sent twice.
    pub duplicate_pct: u8,
    /// Webhooks held back and sent after the payment's next one.
    pub reorder_pct: u8,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Faults {
    pub seed: u64,
    pub rates: FaultRates,
}

impl Faults {
    /// 0 to 99, fixed by the seed, the question and its subject.
    fn roll(&self, question: &str, subject: &str, n: u64) -> u8 {
        let mut h = Sha256::new();
        h.update(self.seed.to_le_bytes());
        h.update(question.as_bytes());
        h.update([0]);
        h.update(subject.as_bytes());
        h.update([0]);
        h.update(n.to_le_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // `% 100` of a 64-bit value: the bias is below 1e-17.
        (u64::from_le_bytes(first) % 100) as u8
    }

    pub fn declines(&self, payment_key: &str) -> bool {
        self.roll("decline", payment_key, 0) < self.rates.decline_pct
    }

    pub fn duplicates(&self, payment_key: &str, version: u64) -> bool {
        self.roll("duplicate", payment_key, version) < self.rates.duplicate_pct
    }

    pub fn reorders(&self, payment_key: &str, version: u64) -> bool {
        self.roll("reorder", payment_key, version) < self.rates.reorder_pct
    }

    /// A payment key: fixed by the seed, the order and how many checkouts the
    /// order had before, so a rerun with the seed names payments the same.
    pub fn payment_key(&self, order_id: &str, nth: usize) -> String {
        let mut h = Sha256::new();
        h.update(self.seed.to_le_bytes());
        h.update(b"payment-key");
        h.update(order_id.as_bytes());
        h.update([0]);
        h.update((nth as u64).to_le_bytes());
        let hex: String = h.finalize()[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("sbx_{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_kept_roughly_and_decisions_are_repeatable() {
        let f = Faults { seed: 7, rates: FaultRates { decline_pct: 10, duplicate_pct: 0, reorder_pct: 100 } };
        let declined = (0..10_000).filter(|i| f.declines(&format!("k{i}"))).count();
        assert!((800..1200).contains(&declined), "{declined}");
        assert_eq!(declined, (0..10_000).filter(|i| f.declines(&format!("k{i}"))).count());
        assert!(!f.duplicates("k", 1));
        assert!(f.reorders("k", 1));
        let other = Faults { seed: 8, ..f };
        assert_ne!(f.payment_key("order-1", 0), other.payment_key("order-1", 0));
        assert_ne!(f.payment_key("order-1", 0), f.payment_key("order-1", 1));
        assert_eq!(f.payment_key("order-1", 0), f.payment_key("order-1", 0));
    }
}
