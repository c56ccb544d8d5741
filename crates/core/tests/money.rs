//! Money's checked arithmetic against exact wide integers: every result is
//! either the exact amount or `None`, never a wrapped or saturated one.

use proptest::prelude::*;
use stampede_core::{Money, PRICE_MAX};

fn exact(v: u128) -> Option<Money> {
    u64::try_from(v).ok().map(Money::from_minor)
}

proptest! {
    #[test]
    fn sums_are_exact_or_refused(amounts in proptest::collection::vec(any::<u64>(), 0..8)) {
        let wide: u128 = amounts.iter().map(|&a| u128::from(a)).sum();
        prop_assert_eq!(Money::checked_sum(amounts.iter().copied().map(Money::from_minor)), exact(wide));
    }

    #[test]
    fn products_are_exact_or_refused(price in any::<u64>(), count in any::<u64>()) {
        let wide = u128::from(price) * u128::from(count);
        prop_assert_eq!(Money::from_minor(price).checked_mul(count), exact(wide));
    }

    #[test]
    fn differences_never_go_below_zero(a in any::<u64>(), b in any::<u64>()) {
        let got = Money::from_minor(a).checked_sub(Money::from_minor(b));
        prop_assert_eq!(got, a.checked_sub(b).map(Money::from_minor));
    }

    #[test]
    fn only_bounded_prices_are_prices(minor in any::<u64>()) {
        prop_assert_eq!(Money::price(minor).is_ok(), minor <= PRICE_MAX);
    }

    /// Bounded prices over the largest venue (100,000 seats) always sum.
    #[test]
    fn a_full_venue_of_bounded_prices_fits(price in 0..=PRICE_MAX) {
        prop_assert!(Money::from_minor(price).checked_mul(stampede_core::VENUE_SEATS_MAX as u64).is_some());
    }
}
