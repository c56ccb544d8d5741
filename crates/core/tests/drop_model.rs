//! Model-based tests of the first-come drop.
//!
//! `Sale::apply` is driven with random clicks, opens, closes and ticks, and
//! compared after every input with [`Model`]: a plain list of clicks and a
//! list of remembered keys, searched by loops. Only data types are shared with
//! the core.

mod kit;

use stampede_core::{DropAction, DropOutcome, SeatedAction, StockAction};
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_core::{
    Action, Applied, Click, Command, DropBook, DropConfig, DropView, Event, HoldId, IdempotencyKey, Input, KindConfig,
    Outcome, Rejection, Sale, SaleConfig, SaleStatus, UserId,
};

const T0: i64 = 1_000;

#[derive(Clone, Debug)]
struct Setup {
    winners: u32,
    users: u64,
    opens_at_us: Option<i64>,
    closes_at_us: Option<i64>,
}

fn sale_config(s: &Setup) -> SaleConfig {
    SaleConfig {
        translations: Vec::new(),
        title: "Stampede drop".into(),
        description: String::new(),
        owner: UserId(999),
        currency: "KRW".into(),
        opens_at_us: s.opens_at_us,
        closes_at_us: s.closes_at_us,
        kind: KindConfig::Drop(DropConfig { winners: s.winners }),
        queue: None,
    }
}

fn key(name: &str) -> IdempotencyKey {
    match IdempotencyKey::parse(name) {
        Ok(k) => k,
        Err(e) => panic!("{name:?} is a valid key: {e:?}"),
    }
}

fn drop_book(sale: &Sale) -> &DropBook {
    match sale.drop_book() {
        Some(b) => b,
        None => panic!("a drop has a drop book"),
    }
}

fn cmd(at_us: i64, by: u64, key_name: &str, action: Action) -> Input {
    Input::Command(Command { at_us, by: UserId(by), key: key(key_name), action })
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct MStep {
    outcome: Outcome,
    status_before: SaleStatus,
    /// The status once time has passed, when the command itself is judged.
    status_at_act: SaleStatus,
    status_after: SaleStatus,
    /// A command that was carried out (not a tick, not a remembered key).
    acted: bool,
    /// The command added a click.
    new_click: bool,
}

struct Model {
    setup: Setup,
    status: SaleStatus,
    opened_at: Option<i64>,
    now: i64,
    /// In arrival order.
    clicks: Vec<Click>,
    /// (person, key, action, first outcome).
    remembered: Vec<(u64, String, Action, Outcome)>,
}

impl Model {
    fn new(setup: Setup) -> Self {
        Model {
            setup,
            status: SaleStatus::Scheduled,
            opened_at: None,
            now: i64::MIN,
            clicks: Vec::new(),
            remembered: Vec::new(),
        }
    }

    fn deadline(&self) -> Option<i64> {
        let mut candidates = Vec::new();
        if self.status == SaleStatus::Scheduled {
            candidates.extend(self.setup.opens_at_us);
        }
        if self.status != SaleStatus::Closed {
            candidates.extend(self.setup.closes_at_us);
        }
        candidates.into_iter().min()
    }

    fn apply(&mut self, input: &Input) -> MStep {
        let status_before = self.status;
        let at = match input {
            Input::Command(c) => c.at_us,
            Input::Tick { at_us } => *at_us,
        };
        if at > self.now {
            self.now = at;
        }
        if self.status == SaleStatus::Scheduled
            && let Some(opens) = self.setup.opens_at_us
            && opens <= self.now
        {
            self.status = SaleStatus::Open;
            self.opened_at = Some(opens);
        }
        if self.status != SaleStatus::Closed && self.setup.closes_at_us.is_some_and(|c| c <= self.now) {
            self.status = SaleStatus::Closed;
        }
        let status_at_act = self.status;
        let clicks_before = self.clicks.len();

        let (outcome, acted) = match input {
            Input::Tick { .. } => (Outcome::Ticked, false),
            Input::Command(c) => {
                let (by, key) = (c.by.0, c.key.as_str().to_owned());
                let mut recalled = None;
                for (who, k, action, outcome) in &self.remembered {
                    if *who == by && *k == key {
                        recalled = Some(if *action == c.action {
                            outcome.clone()
                        } else {
                            Outcome::Rejected(Rejection::IdempotencyKeyReused)
                        });
                    }
                }
                match recalled {
                    Some(o) => (o, false),
                    None => {
                        let o = self.act(by, &c.action);
                        self.remembered.push((by, key, c.action.clone(), o.clone()));
                        (o, true)
                    }
                }
            }
        };
        MStep {
            outcome,
            status_before,
            status_at_act,
            status_after: self.status,
            acted,
            new_click: self.clicks.len() > clicks_before,
        }
    }

    fn act(&mut self, by: u64, action: &Action) -> Outcome {
        match action {
            Action::Open => match self.status {
                SaleStatus::Scheduled => {
                    self.status = SaleStatus::Open;
                    self.opened_at = Some(self.now);
                    Outcome::Opened
                }
                SaleStatus::Open => Outcome::Rejected(Rejection::AlreadyOpen),
                SaleStatus::Closed => Outcome::Rejected(Rejection::AlreadyClosed),
            },
            Action::Close => {
                if self.status == SaleStatus::Closed {
                    Outcome::Rejected(Rejection::AlreadyClosed)
                } else {
                    self.status = SaleStatus::Closed;
                    Outcome::Closed
                }
            }
            Action::Join { .. } | Action::SetPowBits { .. } => Outcome::Rejected(Rejection::NoWaitingRoom),
            Action::Drop(DropAction::Click) => {
                for c in &self.clicks {
                    if c.by.0 == by {
                        return Outcome::Drop(DropOutcome::Clicked(c.clone()));
                    }
                }
                match (self.status, self.opened_at) {
                    (SaleStatus::Scheduled, _) => Outcome::Rejected(Rejection::NotOpenYet),
                    (SaleStatus::Closed, _) => Outcome::Rejected(Rejection::Closed),
                    (SaleStatus::Open, None) => panic!("model: open without an opening time"),
                    (SaleStatus::Open, Some(opened)) => {
                        let rank = self.clicks.len() as u32 + 1;
                        let click = Click {
                            by: UserId(by),
                            rank,
                            at_us: self.now,
                            won: rank <= self.setup.winners,
                            after_open_us: self.now - opened,
                        };
                        self.clicks.push(click.clone());
                        Outcome::Drop(DropOutcome::Clicked(click))
                    }
                }
            }
            Action::Stock(StockAction::Reserve { .. })
            | Action::Confirm { .. }
            | Action::Cancel { .. }
            | Action::Refund { .. }
            | Action::Seated(SeatedAction::HoldSeats { .. })
            | Action::Seated(SeatedAction::HoldBest { .. })
            | Action::Seated(SeatedAction::ReleaseSeat { .. })
            | Action::Seated(SeatedAction::SwapSeat { .. }) => Outcome::Rejected(Rejection::WrongSaleKind),
            // Editing and archiving have their own model (edit_model.rs); these runs never send them.
            Action::Edit(_) | Action::Archive | Action::Ticket(_) => {
                panic!("model: the drop runs do not edit, archive or scan")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The checked run
// ---------------------------------------------------------------------------

struct Run {
    sale: Sale,
    model: Model,
    /// First outcome the core gave per (person, key), with its action.
    first: BTreeMap<(u64, String), (Action, Outcome)>,
    /// Each person's first successful click, as the core answered it.
    first_click: BTreeMap<UserId, Click>,
}

impl Run {
    fn new(setup: &Setup) -> Self {
        Run {
            sale: Sale::new(sale_config(setup)),
            model: Model::new(setup.clone()),
            first: BTreeMap::new(),
            first_click: BTreeMap::new(),
        }
    }

    /// A command with a key the sale already knows is applied after a tick to
    /// the same instant, so that its own effect (none) shows on the whole `Sale`.
    fn drive(&mut self, input: &Input) -> Result<(), TestCaseError> {
        if let Input::Command(c) = input {
            let slot = (c.by.0, c.key.as_str().to_owned());
            if let Some((first_action, first_outcome)) = self.first.get(&slot).cloned() {
                self.step(&Input::Tick { at_us: c.at_us })?;
                let before = self.sale.clone();
                let applied = self.step(input)?;
                prop_assert!(self.sale == before, "a remembered key changed the sale: {input:?}");
                prop_assert_eq!(&applied.events, &Vec::<Event>::new(), "a remembered key emitted events");
                let expected = if first_action == c.action {
                    first_outcome
                } else {
                    Outcome::Rejected(Rejection::IdempotencyKeyReused)
                };
                prop_assert_eq!(&applied.outcome, &expected, "remembered key {:?}", slot);
                return Ok(());
            }
        }
        self.step(input).map(|_| ())
    }

    fn step(&mut self, input: &Input) -> Result<Applied, TestCaseError> {
        let winners = self.model.setup.winners;
        let clicks_before = drop_book(&self.sale).clicks().len();
        let applied = self.sale.apply(input);
        let m = self.model.apply(input);
        let ctx = format!("input {input:?}");

        prop_assert_eq!(&applied.outcome, &m.outcome, "{}", ctx);
        prop_assert_eq!(drop_book(&self.sale).clicks(), &self.model.clicks[..], "{}", ctx);
        prop_assert_eq!(self.sale.check_invariants(), Ok(()), "{}", ctx);
        prop_assert_eq!(self.sale.view().status, self.model.status, "{}", ctx);
        prop_assert_eq!(self.sale.schedule().opened_at_us, self.model.opened_at, "{}", ctx);

        // The rules, stated on the core's own answers.
        if let Input::Command(c) = input
            && m.acted
        {
            self.first.insert((c.by.0, c.key.as_str().to_owned()), (c.action.clone(), applied.outcome.clone()));
            if c.action == Action::Drop(DropAction::Click) {
                match self.first_click.get(&c.by) {
                    Some(first) => {
                        prop_assert_eq!(
                            &applied.outcome,
                            &Outcome::Drop(DropOutcome::Clicked(first.clone())),
                            "a repeat click; {}",
                            ctx
                        )
                    }
                    None => match m.status_at_act {
                        SaleStatus::Scheduled => {
                            prop_assert_eq!(&applied.outcome, &Outcome::Rejected(Rejection::NotOpenYet), "{}", ctx)
                        }
                        SaleStatus::Closed => {
                            prop_assert_eq!(&applied.outcome, &Outcome::Rejected(Rejection::Closed), "{}", ctx)
                        }
                        SaleStatus::Open => match &applied.outcome {
                            Outcome::Drop(DropOutcome::Clicked(click)) => {
                                prop_assert_eq!(click.by, c.by);
                                prop_assert_eq!(click.rank as usize, clicks_before + 1, "ranks follow input order");
                                prop_assert_eq!(click.at_us, self.model.now, "a click happens now");
                                self.first_click.insert(c.by, click.clone());
                            }
                            other => prop_assert!(false, "an open drop refused a first click: {other:?}"),
                        },
                    },
                }
            }
        }

        // The book as a whole.
        let clicks = drop_book(&self.sale).clicks();
        let opened_at = self.sale.schedule().opened_at_us;
        let mut people = BTreeSet::new();
        for (i, click) in clicks.iter().enumerate() {
            prop_assert_eq!(click.rank as usize, i + 1, "ranks 1..n without gaps; {}", ctx);
            prop_assert!(people.insert(click.by), "{:?} ranked twice; {ctx}", click.by);
            prop_assert_eq!(click.won, click.rank <= winners, "{}", ctx);
            if i > 0 {
                prop_assert!(clicks[i - 1].at_us <= click.at_us, "time runs backwards at rank {}; {ctx}", click.rank);
            }
            prop_assert_eq!(Some(click.after_open_us), opened_at.map(|o| click.at_us - o), "{}", ctx);
            prop_assert!(click.after_open_us >= 0, "clicked before opening; {ctx}");
            prop_assert_eq!(drop_book(&self.sale).click_of(click.by), Some(click), "{}", ctx);
            prop_assert_eq!(self.first_click.get(&click.by), Some(click), "{}", ctx);
        }
        prop_assert_eq!(people.len(), self.first_click.len());
        let n = clicks.len() as u32;
        prop_assert_eq!(self.sale.view().drop, Some(DropView { winners, clicks: n, won: n.min(winners) }), "{}", ctx);
        prop_assert_eq!(self.sale.view().stock, None);

        // Events.
        let click_events: Vec<&Click> = applied
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Clicked(c) => Some(c),
                _ => None,
            })
            .collect();
        if m.new_click {
            prop_assert_eq!(click_events, clicks.last().into_iter().collect::<Vec<_>>(), "{}", ctx);
        } else {
            prop_assert!(click_events.is_empty(), "a click event without a new click; {ctx}");
        }
        let status_events: Vec<SaleStatus> = applied
            .events
            .iter()
            .filter_map(|e| match e {
                Event::StatusChanged(s) => Some(*s),
                _ => None,
            })
            .collect();
        if m.status_before == m.status_after {
            prop_assert!(status_events.is_empty(), "status event without a change; {ctx}");
        } else {
            prop_assert_eq!(status_events.last(), Some(&m.status_after), "{}", ctx);
        }
        prop_assert!(
            applied.events.iter().all(|e| matches!(e, Event::Clicked(_) | Event::StatusChanged(_))),
            "stock events from a drop: {:?}",
            applied.events
        );
        match input {
            Input::Tick { .. } => prop_assert_eq!(applied.changed, m.status_before != m.status_after, "{}", ctx),
            Input::Command(_) => prop_assert!(applied.changed),
        }
        prop_assert_eq!(self.sale.next_deadline_us(), self.model.deadline(), "{}", ctx);
        Ok(applied)
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Step {
    Tick {
        dt: i64,
    },
    Cmd {
        dt: i64,
        who: prop::sample::Index,
        key: u16,
        action: Action,
    },
    /// The previous command again, stamped with the previous input's time.
    RepeatLast,
}

fn setup_strategy() -> impl Strategy<Value = Setup> {
    (1u32..=10, 1u64..=30, proptest::option::of(T0..T0 + 150), proptest::option::of(T0 + 100..T0 + 2_000))
        .prop_map(|(winners, users, opens_at_us, closes_at_us)| Setup { winners, users, opens_at_us, closes_at_us })
}

fn dt_strategy() -> impl Strategy<Value = i64> {
    // Rarely a long wait, so reaction times are not all small.
    prop_oneof![40 => 0i64..3, 50 => 0i64..20, 10 => -20i64..0, 1 => 1_000i64..100_000]
}

fn action_strategy() -> impl Strategy<Value = Action> {
    prop_oneof![
        40 => Just(Action::Drop(DropAction::Click)),
        4 => Just(Action::Open),
        1 => Just(Action::Close),
        1 => Just(Action::Stock(StockAction::Reserve { quantity: 1 })),
        1 => Just(Action::Confirm { hold: HoldId(1) }),
    ]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => dt_strategy().prop_map(|dt| Step::Tick { dt }),
        12 => (dt_strategy(), any::<prop::sample::Index>(), prop_oneof![2 => 0u16..3, 3 => 100u16..10_000], action_strategy())
            .prop_map(|(dt, who, key, action)| Step::Cmd { dt, who, key, action }),
        2 => Just(Step::RepeatLast),
    ]
}

fn inputs(setup: &Setup, steps: &[Step]) -> Vec<Input> {
    let mut clock = T0 - 30;
    let mut last: Option<Input> = None;
    let mut out = Vec::new();
    for s in steps {
        let input = match s {
            Step::Tick { dt } => {
                clock += dt;
                Input::Tick { at_us: clock }
            }
            Step::Cmd { dt, who, key: k, action } => {
                clock += dt;
                let by = who.index(setup.users as usize) as u64 + 1;
                cmd(clock, by, &format!("k{k}"), action.clone())
            }
            Step::RepeatLast => match &last {
                Some(Input::Command(c)) => Input::Command(c.clone()),
                _ => continue,
            },
        };
        last = Some(input.clone());
        out.push(input);
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The core agrees with the model and with the drop's rules after every input.
    #[test]
    fn drop_matches_the_model(setup in setup_strategy(), steps in prop::collection::vec(step_strategy(), 1..120)) {
        let mut run = Run::new(&setup);
        for input in inputs(&setup, &steps) {
            run.drive(&input)?;
        }
    }

    /// The properties every kind has (`kit/mod.rs`): determinism, replay
    /// without unchanged ticks, remembered keys doing nothing, invariants.
    #[test]
    fn drop_has_the_generic_properties(
        setup in setup_strategy(),
        steps in prop::collection::vec(step_strategy(), 1..120),
        split in any::<prop::sample::Index>(),
    ) {
        kit::properties(&sale_config(&setup), &inputs(&setup, &steps), split)?;
    }
}

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

fn drop_sale(winners: u32, opens_at_us: Option<i64>, closes_at_us: Option<i64>) -> Sale {
    Sale::new(sale_config(&Setup { winners, users: 0, opens_at_us, closes_at_us }))
}

fn clicked(outcome: &Outcome) -> &Click {
    match outcome {
        Outcome::Drop(DropOutcome::Clicked(c)) => c,
        other => panic!("expected a click, got {other:?}"),
    }
}

#[test]
fn the_first_n_clickers_win() {
    let mut sale = drop_sale(2, Some(100), None);
    let ranks: Vec<(u32, bool, i64)> = (1..=4)
        .map(|u| {
            let c = clicked(&sale.apply(&cmd(100 + 10 * u as i64, u, "go", Action::Drop(DropAction::Click))).outcome)
                .clone();
            (c.rank, c.won, c.after_open_us)
        })
        .collect();
    assert_eq!(ranks, vec![(1, true, 10), (2, true, 20), (3, false, 30), (4, false, 40)]);
    assert_eq!(sale.view().drop, Some(DropView { winners: 2, clicks: 4, won: 2 }));
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn a_repeated_click_returns_the_first() {
    let mut sale = drop_sale(1, Some(100), None);
    let first = sale.apply(&cmd(105, 7, "a", Action::Drop(DropAction::Click)));
    sale.apply(&cmd(106, 8, "a", Action::Drop(DropAction::Click)));
    let again = sale.apply(&cmd(200, 7, "another-key", Action::Drop(DropAction::Click)));
    assert_eq!(again.outcome, first.outcome);
    assert!(again.events.is_empty(), "a repeat is not a new click");
    assert_eq!(clicked(&again.outcome).rank, 1);
    assert_eq!(drop_book(&sale).clicks().len(), 2);
}

#[test]
fn clicks_before_opening_are_refused() {
    let mut sale = drop_sale(1, None, None);
    assert_eq!(
        sale.apply(&cmd(10, 1, "a", Action::Drop(DropAction::Click))).outcome,
        Outcome::Rejected(Rejection::NotOpenYet)
    );
    assert_eq!(sale.apply(&cmd(20, 999, "open", Action::Open)).outcome, Outcome::Opened);
    let c = clicked(&sale.apply(&cmd(25, 1, "b", Action::Drop(DropAction::Click))).outcome).clone();
    assert_eq!((c.rank, c.won, c.after_open_us), (1, true, 5));
}

#[test]
fn after_closing_only_earlier_clickers_get_an_answer() {
    let mut sale = drop_sale(5, Some(100), Some(200));
    let first = sale.apply(&cmd(150, 1, "a", Action::Drop(DropAction::Click))).outcome;
    assert_eq!(
        sale.apply(&cmd(200, 2, "a", Action::Drop(DropAction::Click))).outcome,
        Outcome::Rejected(Rejection::Closed)
    );
    assert_eq!(sale.apply(&cmd(201, 1, "b", Action::Drop(DropAction::Click))).outcome, first);
    assert_eq!(sale.view().status, SaleStatus::Closed);
}

#[test]
fn a_scheduled_opening_is_measured_from_the_schedule() {
    let mut sale = drop_sale(1, Some(1_000), None);
    // The timer fired late; the reaction time still counts from 1_000.
    let c = clicked(&sale.apply(&cmd(1_250, 3, "a", Action::Drop(DropAction::Click))).outcome).clone();
    assert_eq!((c.at_us, c.after_open_us), (1_250, 250));
}
