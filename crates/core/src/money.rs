//! Amounts of money. Prices are bounded where they enter ([`Money::price`]),
//! and every sum or product is checked: an amount that does not fit is
//! `None`, never a silently wrapped or saturated number on an order or in
//! an organizer's revenue.

use serde::{Deserialize, Serialize};

/// The highest price of one ticket or seat, in the currency's minor unit
/// (₩1 trillion; $10 billion in cents). Far above any real ticket, and low
/// enough that a seated sale's revenue always fits (100,000 seats at most).
/// A stock sale must also keep `stock × price` within `u64`, checked when it
/// is created, so that no order and no revenue can overflow.
pub const PRICE_MAX: u64 = 1_000_000_000_000;

/// An amount in a currency's minor unit (won, cents). It has no `+` or `*`:
/// only the checked operations, so an overflow is always seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(u64);

/// A price over [`PRICE_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceTooHigh(pub u64);

impl std::fmt::Display for PriceTooHigh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a price must be between 0 and {PRICE_MAX} (got {})", self.0)
    }
}

impl std::error::Error for PriceTooHigh {}

impl Money {
    pub const ZERO: Money = Money(0);

    /// Any amount, e.g. one read back from a record.
    pub const fn from_minor(minor: u64) -> Money {
        Money(minor)
    }

    /// A price: 0 to [`PRICE_MAX`].
    pub fn price(minor: u64) -> Result<Money, PriceTooHigh> {
        if minor <= PRICE_MAX { Ok(Money(minor)) } else { Err(PriceTooHigh(minor)) }
    }

    pub const fn minor(self) -> u64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `count` times this amount (a unit price times a quantity).
    pub fn checked_mul(self, count: u64) -> Option<Money> {
        self.0.checked_mul(count).map(Money)
    }

    /// The total of `amounts`, or `None` as soon as it would not fit.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Option<Money> {
        amounts.into_iter().try_fold(Money::ZERO, Money::checked_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_bounded() {
        assert_eq!(Money::price(0), Ok(Money::ZERO));
        assert_eq!(Money::price(PRICE_MAX).map(Money::minor), Ok(PRICE_MAX));
        assert_eq!(Money::price(PRICE_MAX + 1), Err(PriceTooHigh(PRICE_MAX + 1)));
        assert!(Money::price(u64::MAX).is_err());
    }

    #[test]
    fn overflow_is_none_not_a_saturated_amount() {
        let big = Money::from_minor(u64::MAX - 1);
        assert_eq!(big.checked_add(Money::from_minor(1)), Some(Money::from_minor(u64::MAX)));
        assert_eq!(big.checked_add(Money::from_minor(2)), None);
        assert_eq!(Money::from_minor(PRICE_MAX).checked_mul(100_000_000), None, "stock × price can overflow");
        assert_eq!(Money::from_minor(3).checked_mul(4), Some(Money::from_minor(12)));
        assert_eq!(Money::ZERO.checked_sub(Money::from_minor(1)), None);
        assert_eq!(Money::checked_sum([big, Money::from_minor(1)]), Some(Money::from_minor(u64::MAX)));
        assert_eq!(Money::checked_sum([big, Money::from_minor(1), Money::from_minor(1)]), None);
    }

    #[test]
    fn money_is_encoded_as_its_number() {
        assert_eq!(serde_json::to_string(&Money::from_minor(55_000)).ok().as_deref(), Some("55000"));
    }
}
