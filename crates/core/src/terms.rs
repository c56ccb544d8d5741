//! The terms a sale's rules can keep: one check of a [`SaleConfig`], shared
//! by everything that makes a sale or brings one back.
//!
//! The API refuses a request outside these ranges with the field named (and
//! may be stricter: a hold of at least 10 s is its policy, not a rule); the
//! engine refuses to create such a sale; replay refuses a log whose `create`
//! record, or an `edit` record's new terms, lie outside them. Without the one
//! check a crafted or old log could hold a sale the API would never make, a
//! per-person limit of 0 say, whose books the rules cannot keep.

use crate::kinds::KindConfig;
use crate::money::Money;
use crate::queue::{AdmissionPolicy, POW_BITS_MAX, QueueConfig};
use crate::sale::SaleConfig;

/// Most units one stock sale may sell.
pub const STOCK_MAX: u64 = 100_000_000;
/// Most winners one drop may have.
pub const WINNERS_MAX: u32 = 1_000_000;
/// Most units (or seats) one person may have from one sale.
pub const PER_PERSON_MAX: u32 = 1_000_000;
/// Most places a waiting room admits at once, or in one chunk.
pub const ADMISSIONS_MAX: u32 = 1_000_000;
/// Most places one network address may take in a waiting room.
pub const PLACES_PER_ADDRESS_MAX: u32 = 1_000_000;

/// A term outside what the rules can keep: `field` as the API names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermsProblem {
    pub field: &'static str,
    pub problem: String,
}

impl std::fmt::Display for TermsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for TermsProblem {}

fn within<T: PartialOrd + std::fmt::Display>(field: &'static str, v: T, min: T, max: T) -> Result<(), TermsProblem> {
    if v < min || v > max {
        return Err(TermsProblem { field, problem: format!("{v} is not between {min} and {max}") });
    }
    Ok(())
}

impl SaleConfig {
    /// Whether the rules can keep these terms (see the module's doc).
    pub fn check(&self) -> Result<(), TermsProblem> {
        if let (Some(o), Some(c)) = (self.opens_at_us, self.closes_at_us)
            && c <= o
        {
            return Err(TermsProblem { field: "closes_at", problem: "the closing is not after the opening".into() });
        }
        self.kind.check()?;
        if let Some(queue) = &self.queue {
            queue.check()?;
        }
        Ok(())
    }
}

impl KindConfig {
    /// Whether the rules of this kind can keep these terms.
    pub fn check(&self) -> Result<(), TermsProblem> {
        match self {
            KindConfig::Stock(c) => {
                within("stock", c.stock, 1, STOCK_MAX)?;
                within("price", c.price, 0, crate::money::PRICE_MAX)?;
                if Money::from_minor(c.price).checked_mul(c.stock).is_none() {
                    return Err(TermsProblem { field: "price", problem: "selling out would overflow revenue".into() });
                }
                within("per_person_limit", c.per_person_limit, 1, PER_PERSON_MAX)?;
                within("order_quantity_max", c.order_quantity_max, 1, PER_PERSON_MAX)?;
                within("hold_seconds", c.hold_ttl_us, 1, i64::MAX / 4)
            }
            KindConfig::Drop(c) => within("winners", c.winners, 1, WINNERS_MAX),
            KindConfig::Seated(c) => {
                within("seated.per_person_limit", c.per_person_limit, 1, PER_PERSON_MAX)?;
                within("seated.seats_per_hold_max", c.seats_per_hold_max, 1, PER_PERSON_MAX)?;
                within("seated.hold_seconds", c.hold_ttl_us, 1, i64::MAX / 4)?;
                c.venue.validate().map_err(|e| TermsProblem { field: "seated.venue", problem: e.to_string() })
            }
        }
    }
}

impl QueueConfig {
    /// Whether a waiting room can run on these terms.
    pub fn check(&self) -> Result<(), TermsProblem> {
        match self.policy {
            AdmissionPolicy::Chunk { size, every_us } => {
                within("waiting_room.chunk_size", size, 1, ADMISSIONS_MAX)?;
                within("waiting_room.chunk_seconds", every_us, 1, i64::MAX / 4)?;
            }
            AdmissionPolicy::Active { max } => within("waiting_room.active_max", max, 1, ADMISSIONS_MAX)?,
        }
        within("waiting_room.pass_seconds", self.pass_ttl_us, 1, i64::MAX / 4)?;
        within("waiting_room.pow_bits", self.pow_bits, 0, POW_BITS_MAX)?;
        within("waiting_room.places_per_address", self.places_per_address, 1, PLACES_PER_ADDRESS_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::drop::DropConfig;
    use crate::kinds::stock::StockConfig;
    use crate::{US_PER_S, UserId};

    fn stock(per_person_limit: u32) -> SaleConfig {
        SaleConfig {
            title: "t".into(),
            description: String::new(),
            owner: UserId(1),
            currency: "KRW".into(),
            opens_at_us: None,
            closes_at_us: None,
            kind: KindConfig::Stock(StockConfig {
                stock: 10,
                price: 100,
                per_person_limit,
                order_quantity_max: 2,
                hold_ttl_us: 60 * US_PER_S,
            }),
            queue: None,
            translations: vec![],
        }
    }

    #[test]
    fn a_limit_of_zero_is_refused_and_one_is_kept() {
        assert_eq!(stock(1).check(), Ok(()));
        let problem = stock(0).check().unwrap_err();
        assert_eq!(problem.field, "per_person_limit");
        assert_eq!(problem.to_string(), "per_person_limit: 0 is not between 1 and 1000000");
    }

    #[test]
    fn a_sellout_that_overflows_and_a_closing_before_opening_are_refused() {
        let mut c = stock(1);
        c.kind = KindConfig::Stock(StockConfig {
            stock: STOCK_MAX,
            price: crate::money::PRICE_MAX,
            per_person_limit: 1,
            order_quantity_max: 1,
            hold_ttl_us: 1,
        });
        assert_eq!(c.check().unwrap_err().field, "price");
        let mut c = stock(1);
        c.opens_at_us = Some(10);
        c.closes_at_us = Some(10);
        assert_eq!(c.check().unwrap_err().field, "closes_at");
        c.kind = KindConfig::Drop(DropConfig { winners: 0 });
        c.closes_at_us = Some(11);
        assert_eq!(c.check().unwrap_err().field, "winners");
    }

    #[test]
    fn an_edit_to_terms_the_rules_cannot_keep_is_rejected_and_changes_nothing() {
        use crate::kinds::TermsEdit;
        use crate::{Action, Command, IdempotencyKey, Input, Outcome, Rejection, Sale, SaleEdit};
        let mut sale = Sale::new(stock(3));
        let before = sale.clone();
        let KindConfig::Stock(mut terms) = stock(0).kind else { unreachable!() };
        terms.stock = 20;
        let edit = SaleEdit {
            title: None,
            description: None,
            opens_at_us: None,
            closes_at_us: None,
            terms: Some(TermsEdit::Stock(terms)),
        };
        let input = Input::Command(Command {
            at_us: 1,
            by: UserId(1),
            key: IdempotencyKey::parse("edit").unwrap(),
            action: Action::Edit(Box::new(edit)),
        });
        let applied = sale.apply(&input);
        assert_eq!(applied.outcome, Outcome::Rejected(Rejection::BadTerms { field: "per_person_limit".into() }));
        assert_eq!(sale.config(), before.config(), "a refused edit changed the terms");
    }

    #[test]
    fn a_waiting_room_that_admits_nobody_is_refused() {
        let mut c = stock(1);
        c.queue = Some(QueueConfig {
            policy: AdmissionPolicy::Active { max: 0 },
            pass_ttl_us: 60 * US_PER_S,
            prequeue_opens_at_us: None,
            pow_bits: 0,
            places_per_address: 1,
            seed: [0; 32],
            pass_up_to_limit: true,
        });
        assert_eq!(c.check().unwrap_err().field, "waiting_room.active_max");
    }
}
