//! Model-based tests of editing and archiving a sale.
//!
//! Random runs of edits, archiving, opening, closing, holds and the passing of
//! time are applied to a stock sale and, after every input, compared with a
//! naive model of the rules an organizer is promised: before opening anything
//! may change; after opening only the title, the description and (while open)
//! the closing time; a refused edit changes nothing; only a sale nobody has
//! held or bought from may be archived, and an archived sale takes nothing.

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_core::{
    Action, Command, EditField, HoldId, IdempotencyKey, Input, KindConfig, Outcome, Rejection, Sale, SaleConfig,
    SaleEdit, SaleStatus, StockConfig, TermsEdit, UserId,
};
use stampede_core::{StockAction, StockOutcome};

const T0: i64 = 1_000_000;
/// Holds outlive every run, so the model need not expire them.
const HOLD_TTL_US: i64 = i64::MAX / 4;

fn terms(stock: u64, price: u64) -> StockConfig {
    StockConfig { stock, price, per_person_limit: 10, order_quantity_max: 5, hold_ttl_us: HOLD_TTL_US }
}

fn config(opens_at_us: Option<i64>, closes_at_us: Option<i64>) -> SaleConfig {
    SaleConfig {
        title: "First".into(),
        description: "d".into(),
        translations: Vec::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us,
        closes_at_us,
        kind: KindConfig::Stock(terms(10, 100)),
        queue: None,
    }
}

fn key(n: usize) -> IdempotencyKey {
    IdempotencyKey::parse(&format!("k-{n}")).unwrap_or_else(|e| panic!("valid key: {e:?}"))
}

#[derive(Clone, Debug)]
enum Step {
    Wait(i64),
    Edit { title: Option<String>, opens: Option<Option<i64>>, closes: Option<Option<i64>>, stock: Option<u64> },
    Archive,
    Open,
    Close,
    Reserve,
    CancelLast,
}

fn time() -> impl Strategy<Value = Option<Option<i64>>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(None)),
        3 => (-50i64..200).prop_map(|d| Some(Some(d))),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1i64..60).prop_map(Step::Wait),
        5 => (proptest::option::of("[A-Z][a-z]{0,5}"), time(), time(), proptest::option::of(1u64..20))
            .prop_map(|(title, opens, closes, stock)| Step::Edit { title, opens, closes, stock }),
        1 => Just(Step::Archive),
        1 => Just(Step::Open),
        1 => Just(Step::Close),
        2 => Just(Step::Reserve),
        1 => Just(Step::CancelLast),
    ]
}

/// What the organizer was promised, restated without the core's code.
#[derive(Clone, Debug)]
struct Model {
    title: String,
    opens: Option<i64>,
    closes: Option<i64>,
    stock: u64,
    status: SaleStatus,
    archived: bool,
    /// Holds taken and not cancelled (they never expire here): while there
    /// is one, somebody has bought or may buy, and the sale stays listed.
    live_holds: Vec<u64>,
}

impl Model {
    fn pass_time(&mut self, now: i64) {
        if self.status == SaleStatus::Scheduled && self.opens.is_some_and(|o| o <= now) {
            self.status = SaleStatus::Open;
        }
        if self.status != SaleStatus::Closed && self.closes.is_some_and(|c| c <= now) {
            self.status = SaleStatus::Closed;
        }
    }

    fn edit(
        &mut self,
        now: i64,
        title: &Option<String>,
        opens: Option<Option<i64>>,
        closes: Option<Option<i64>>,
        stock: Option<u64>,
    ) -> Result<(), Rejection> {
        if self.archived {
            return Err(Rejection::SaleArchived);
        }
        let opens_changes = opens.is_some_and(|o| o != self.opens);
        let closes_changes = closes.is_some_and(|c| c != self.closes);
        let terms_change = stock.is_some_and(|s| s != self.stock);
        if self.status != SaleStatus::Scheduled && opens_changes {
            return Err(Rejection::EditNotAllowed { field: EditField::OpensAt });
        }
        if self.status != SaleStatus::Scheduled && terms_change {
            return Err(Rejection::EditNotAllowed { field: EditField::Terms });
        }
        if self.status == SaleStatus::Closed && closes_changes {
            return Err(Rejection::EditNotAllowed { field: EditField::ClosesAt });
        }
        let new_opens = if opens_changes { opens.flatten() } else { self.opens };
        let new_closes = if closes_changes { closes.flatten() } else { self.closes };
        if (opens_changes && new_opens.is_some_and(|o| o <= now))
            || (closes_changes && new_closes.is_some_and(|c| c <= now))
        {
            return Err(Rejection::BadSchedule);
        }
        if self.status == SaleStatus::Scheduled
            && let (Some(o), Some(c)) = (new_opens, new_closes)
            && c <= o
        {
            return Err(Rejection::BadSchedule);
        }
        if let Some(t) = title {
            self.title.clone_from(t);
        }
        self.opens = new_opens;
        self.closes = new_closes;
        if let Some(s) = stock {
            self.stock = s;
        }
        Ok(())
    }
}

fn run(steps: &[Step], opens: Option<i64>, closes: Option<i64>) -> Result<(), TestCaseError> {
    let opens = opens.map(|d| T0 + d);
    let closes = closes.map(|d| T0 + d).filter(|c| opens.is_none_or(|o| *c > o));
    let mut sale = Sale::new(config(opens, closes));
    let mut model = Model {
        title: "First".into(),
        opens,
        closes,
        stock: 10,
        status: SaleStatus::Scheduled,
        archived: false,
        live_holds: Vec::new(),
    };
    let mut now = T0 - 100;
    for (n, step) in steps.iter().enumerate() {
        let action = match step {
            Step::Wait(dt) => {
                now += dt;
                sale.apply(&Input::Tick { at_us: now });
                model.pass_time(now);
                continue;
            }
            Step::Edit { title, opens, closes, stock } => Action::Edit(Box::new(SaleEdit {
                title: title.clone(),
                description: None,
                opens_at_us: opens.map(|o| o.map(|d| now + d)),
                closes_at_us: closes.map(|c| c.map(|d| now + d)),
                terms: stock.map(|s| TermsEdit::Stock(terms(s, 100))),
            })),
            Step::Archive => Action::Archive,
            Step::Open => Action::Open,
            Step::Close => Action::Close,
            Step::Reserve => Action::Stock(StockAction::Reserve { quantity: 1 }),
            Step::CancelLast => Action::Cancel { hold: HoldId(model.live_holds.last().copied().unwrap_or(999)) },
        };
        let before = sale.config().clone();
        let input = Input::Command(Command { at_us: now, by: UserId(2), key: key(n), action: action.clone() });
        let outcome = sale.apply(&input).outcome;
        model.pass_time(now);
        match (step, &outcome) {
            (Step::Edit { title, opens, closes, stock }, _) => {
                let expected = model.edit(
                    now,
                    title,
                    opens.map(|o| o.map(|d| now + d)),
                    closes.map(|c| c.map(|d| now + d)),
                    *stock,
                );
                match expected {
                    Ok(()) => prop_assert_eq!(&outcome, &Outcome::Edited, "step {}: {:?}", n, step),
                    Err(r) => {
                        prop_assert_eq!(&outcome, &Outcome::Rejected(r), "step {}: {:?}", n, step);
                        prop_assert_eq!(&before, sale.config(), "a refused edit changed the sale");
                    }
                }
            }
            (Step::Archive, _) => {
                if model.archived {
                    prop_assert_eq!(&outcome, &Outcome::Rejected(Rejection::SaleArchived));
                } else if !model.live_holds.is_empty() {
                    prop_assert_eq!(&outcome, &Outcome::Rejected(Rejection::SaleHasOrders));
                } else {
                    prop_assert_eq!(&outcome, &Outcome::Archived);
                    model.archived = true;
                    model.status = SaleStatus::Closed;
                }
            }
            (Step::Reserve, Outcome::Stock(StockOutcome::Held(h))) => {
                prop_assert_eq!(model.status, SaleStatus::Open, "held outside an open sale");
                prop_assert!(!model.archived, "an archived sale took a hold");
                model.live_holds.push(h.id.0);
            }
            (Step::Reserve, _) => {
                // Each hold takes one unit and never expires here, so an open
                // sale refuses only once every unit is held, or the person's
                // limit of 10 is.
                let sold_out = model.live_holds.len() as u64 >= model.stock.min(10);
                prop_assert!(
                    model.status != SaleStatus::Open || model.archived || sold_out,
                    "refused in an open sale: {outcome:?}"
                );
            }
            (Step::CancelLast, Outcome::Stock(StockOutcome::Cancelled(_))) => {
                model.live_holds.pop();
            }
            (Step::Open, Outcome::Opened) => model.status = SaleStatus::Open,
            (Step::Close, Outcome::Closed) => model.status = SaleStatus::Closed,
            _ => {}
        }
        let c = sale.config();
        prop_assert_eq!(&c.title, &model.title);
        prop_assert_eq!(c.opens_at_us, model.opens);
        prop_assert_eq!(c.closes_at_us, model.closes);
        prop_assert_eq!(sale.schedule().opens_at_us, model.opens);
        prop_assert_eq!(sale.schedule().closes_at_us, model.closes);
        prop_assert_eq!(sale.schedule().status, model.status);
        prop_assert_eq!(sale.archived(), model.archived);
        let KindConfig::Stock(t) = &c.kind else { return Err(TestCaseError::fail("kind changed")) };
        prop_assert_eq!(t.stock, model.stock);
        prop_assert_eq!(sale.stock().map(|b| b.view().total), Some(model.stock));
        if let Err(e) = sale.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
    Ok(())
}

/// `cases` at proptest's default of 256, scaled like the default: CI sets
/// `PROPTEST_CASES` (see `.ci/run`) to run every property test longer.
fn scaled(cases: u32) -> u32 {
    let default = ProptestConfig::default().cases;
    u32::try_from(u64::from(cases) * u64::from(default) / 256).unwrap_or(u32::MAX).max(1)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: scaled(512),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn edits_follow_the_rules(
        steps in proptest::collection::vec(step(), 1..40),
        opens in proptest::option::of(0i64..150),
        closes in proptest::option::of(0i64..300),
    ) {
        run(&steps, opens, closes)?;
    }
}

#[test]
fn after_opening_the_title_changes_but_the_stock_does_not() {
    let mut sale = Sale::new(config(None, None));
    let at =
        |n: usize, action: Action| Input::Command(Command { at_us: T0 + n as i64, by: UserId(1), key: key(n), action });
    assert_eq!(sale.apply(&at(0, Action::Open)).outcome, Outcome::Opened);
    let retitle = SaleEdit { title: Some("Renamed".into()), ..SaleEdit::default() };
    assert_eq!(sale.apply(&at(1, Action::Edit(Box::new(retitle)))).outcome, Outcome::Edited);
    assert_eq!(sale.config().title, "Renamed");
    let restock = SaleEdit { terms: Some(TermsEdit::Stock(terms(99, 100))), ..SaleEdit::default() };
    assert_eq!(
        sale.apply(&at(2, Action::Edit(Box::new(restock)))).outcome,
        Outcome::Rejected(Rejection::EditNotAllowed { field: EditField::Terms })
    );
    // The form sends every field; unchanged terms are no change.
    let same = SaleEdit {
        title: Some("Again".into()),
        terms: Some(TermsEdit::Stock(terms(10, 100))),
        opens_at_us: Some(None),
        ..SaleEdit::default()
    };
    assert_eq!(sale.apply(&at(3, Action::Edit(Box::new(same)))).outcome, Outcome::Edited);
    assert!(matches!(
        sale.apply(&at(4, Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome,
        Outcome::Stock(StockOutcome::Held(_))
    ));
    assert_eq!(sale.apply(&at(5, Action::Archive)).outcome, Outcome::Rejected(Rejection::SaleHasOrders));
}

#[test]
fn an_unsold_sale_archives_and_then_takes_nothing() {
    let mut sale = Sale::new(config(Some(T0 + 1_000), None));
    let at =
        |n: usize, action: Action| Input::Command(Command { at_us: T0 + n as i64, by: UserId(1), key: key(n), action });
    let restock = SaleEdit { terms: Some(TermsEdit::Stock(terms(3, 7))), ..SaleEdit::default() };
    assert_eq!(sale.apply(&at(0, Action::Edit(Box::new(restock)))).outcome, Outcome::Edited);
    assert_eq!(sale.stock().map(|b| b.view().available), Some(3));
    assert_eq!(sale.apply(&at(1, Action::Archive)).outcome, Outcome::Archived);
    assert!(sale.archived());
    assert_eq!(sale.schedule().status, SaleStatus::Closed);
    assert_eq!(sale.next_deadline_us(), None, "an archived sale never opens");
    assert_eq!(sale.apply(&at(2, Action::Open)).outcome, Outcome::Rejected(Rejection::AlreadyClosed));
    let retitle = SaleEdit { title: Some("x".into()), ..SaleEdit::default() };
    assert_eq!(sale.apply(&at(3, Action::Edit(Box::new(retitle)))).outcome, Outcome::Rejected(Rejection::SaleArchived));
}
