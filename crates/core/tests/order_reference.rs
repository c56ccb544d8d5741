//! Order references: unique by construction, readable, and self-checking.

use proptest::prelude::*;
use stampede_core::OrderRef;

const ALPHABET: &str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

fn pair() -> impl Strategy<Value = (u64, u64)> {
    prop_oneof![(1u64..2_000, 1u64..70_000), (any::<u64>(), any::<u64>())]
}

proptest! {
    #[test]
    fn every_reference_reads_back(p in pair()) {
        let r = OrderRef::new(p.0, p.1);
        let text = r.to_string();
        prop_assert!(text.chars().all(|c| c == '-' || ALPHABET.contains(c)), "{}", text);
        prop_assert_eq!(OrderRef::parse(&text), Some(r));
    }

    /// Two orders never share a reference: the text decodes to its pair, so
    /// equal texts would mean equal pairs.
    #[test]
    fn different_orders_have_different_references(a in pair(), b in pair()) {
        prop_assume!(a != b);
        prop_assert_ne!(OrderRef::new(a.0, a.1).to_string(), OrderRef::new(b.0, b.1).to_string());
    }

    /// Misreading any one symbol gives no reference at all, never another order's.
    #[test]
    fn one_misread_symbol_is_caught(p in pair(), at in any::<prop::sample::Index>(), with in 0usize..32) {
        let text = OrderRef::new(p.0, p.1).to_string();
        let positions: Vec<usize> = text.char_indices().filter(|(_, c)| *c != '-').map(|(i, _)| i).collect();
        let i = positions[at.index(positions.len())];
        let replacement = ALPHABET.as_bytes()[with] as char;
        prop_assume!(text.as_bytes()[i] as char != replacement);
        let mut misread = text.clone();
        misread.replace_range(i..=i, &replacement.to_string());
        prop_assert_eq!(OrderRef::parse(&misread), None, "{} misread as {}", text, misread);
    }
}

#[test]
fn first_orders_of_a_thousand_sales_are_all_different_and_short() {
    let mut seen = std::collections::BTreeSet::new();
    for sale in 1..=1000 {
        for order in 1..=20 {
            let text = OrderRef::new(sale, order).to_string();
            assert_eq!(text.len(), 8, "{text}");
            assert!(seen.insert(text), "duplicate for {sale}/{order}");
        }
    }
}

#[test]
fn garbage_is_refused() {
    for bad in ["", "-", "ABC-", "ABC-DEF", "AB0-DEFG", "ABCDEFGH", "ABC-DE FG", "ÄBC-DEFG"] {
        assert_eq!(OrderRef::parse(bad), None, "{bad}");
    }
}
