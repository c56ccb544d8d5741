//! Model-based tests of the stock sale.
//!
//! `Sale::apply` is driven with random inputs and compared, after every input,
//! with [`Model`]: a deliberately naive re-statement of the rules (a `Vec` of
//! holds with statuses, totals recounted by plain loops on every question). The
//! model shares only data types with the core, never its logic.

mod kit;

use stampede_core::{DropAction, SeatedAction, StockAction, StockOutcome};
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_core::{
    Action, Applied, Command, Event, Hold, HoldChange, HoldFact, HoldId, HoldStatus, IDEMPOTENCY_TTL_US,
    IdempotencyKey, Input, KindConfig, Outcome, Rejection, Sale, SaleConfig, SaleStatus, StockBook, StockConfig,
    StockView, UserId,
};

/// Roughly where every generated run starts, in microseconds.
const T0: i64 = 1_000;
const PRICE: u64 = 55_000;
const USERS: u64 = 4;

// ---------------------------------------------------------------------------
// Helpers shared by the properties and the examples
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Setup {
    stock: u64,
    per_person_limit: u32,
    order_quantity_max: u32,
    hold_ttl_us: i64,
    opens_at_us: Option<i64>,
    closes_at_us: Option<i64>,
}

fn sale_config(s: &Setup) -> SaleConfig {
    SaleConfig {
        translations: Vec::new(),
        title: "Stampede test".into(),
        description: String::new(),
        owner: UserId(99),
        currency: "KRW".into(),
        opens_at_us: s.opens_at_us,
        closes_at_us: s.closes_at_us,
        kind: KindConfig::Stock(StockConfig {
            stock: s.stock,
            price: PRICE,
            per_person_limit: s.per_person_limit,
            order_quantity_max: s.order_quantity_max,
            hold_ttl_us: s.hold_ttl_us,
        }),
        queue: None,
    }
}

fn key(name: &str) -> IdempotencyKey {
    match IdempotencyKey::parse(name) {
        Ok(k) => k,
        Err(e) => panic!("{name:?} is a valid key: {e:?}"),
    }
}

fn book(sale: &Sale) -> &StockBook {
    match sale.stock() {
        Some(b) => b,
        None => panic!("a stock sale has a stock book"),
    }
}

fn cmd(at_us: i64, by: u64, key_name: &str, action: Action) -> Input {
    Input::Command(Command { at_us, by: UserId(by), key: key(key_name), action })
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct MHold {
    id: u64,
    by: u64,
    quantity: u32,
    status: HoldStatus,
    created_at_us: i64,
    expires_at_us: i64,
}

/// What the model says one input does.
#[derive(Debug)]
struct MStep {
    outcome: Outcome,
    /// (hold, person, quantity) of every hold that expired during this input.
    expired: Vec<(u64, u64, u32)>,
    status_before: SaleStatus,
    status_after: SaleStatus,
    /// A command that was carried out (not a tick, not a remembered key).
    acted: bool,
}

struct Model {
    setup: Setup,
    status: SaleStatus,
    now: i64,
    /// Hold `i + 1` is `holds[i]`.
    holds: Vec<MHold>,
    /// (person, key, action, first outcome), in arrival order.
    remembered: Vec<(u64, String, Action, Outcome)>,
}

impl Model {
    fn new(setup: Setup) -> Self {
        Model { setup, status: SaleStatus::Scheduled, now: i64::MIN, holds: Vec::new(), remembered: Vec::new() }
    }

    fn held(&self) -> u64 {
        let mut n = 0;
        for h in &self.holds {
            if h.status == HoldStatus::Held {
                n += u64::from(h.quantity);
            }
        }
        n
    }

    fn sold(&self) -> u64 {
        let mut n = 0;
        for h in &self.holds {
            if h.status == HoldStatus::Confirmed {
                n += u64::from(h.quantity);
            }
        }
        n
    }

    fn active_of(&self, by: u64) -> u32 {
        let mut n = 0;
        for h in &self.holds {
            if h.by == by && (h.status == HoldStatus::Held || h.status == HoldStatus::Confirmed) {
                n += h.quantity;
            }
        }
        n
    }

    fn earliest_expiry(&self) -> Option<i64> {
        let mut earliest: Option<i64> = None;
        for h in &self.holds {
            if h.status == HoldStatus::Held && earliest.is_none_or(|e| h.expires_at_us < e) {
                earliest = Some(h.expires_at_us);
            }
        }
        earliest
    }

    /// The earliest future instant at which something happens by itself.
    fn deadline(&self) -> Option<i64> {
        let mut candidates = Vec::new();
        if self.status == SaleStatus::Scheduled {
            candidates.extend(self.setup.opens_at_us);
        }
        if self.status != SaleStatus::Closed {
            candidates.extend(self.setup.closes_at_us);
        }
        candidates.extend(self.earliest_expiry());
        candidates.into_iter().min()
    }

    fn as_hold(&self, h: &MHold) -> Hold {
        Hold {
            id: HoldId(h.id),
            by: UserId(h.by),
            quantity: h.quantity,
            status: h.status,
            created_at_us: h.created_at_us,
            expires_at_us: h.expires_at_us,
            price: PRICE,
        }
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
        let now = self.now;

        // Time passes: the schedule, then hold lifetimes.
        if self.status == SaleStatus::Scheduled && self.setup.opens_at_us.is_some_and(|o| o <= now) {
            self.status = SaleStatus::Open;
        }
        if self.status != SaleStatus::Closed && self.setup.closes_at_us.is_some_and(|c| c <= now) {
            self.status = SaleStatus::Closed;
        }
        let mut expired = Vec::new();
        for h in &mut self.holds {
            if h.status == HoldStatus::Held && h.expires_at_us <= now {
                h.status = HoldStatus::Expired;
                expired.push((h.id, h.by, h.quantity));
            }
        }

        let (outcome, acted) = match input {
            Input::Tick { .. } => (Outcome::Ticked, false),
            Input::Command(c) => {
                let by = c.by.0;
                let key = c.key.as_str().to_owned();
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
        MStep { outcome, expired, status_before, status_after: self.status, acted }
    }

    fn act(&mut self, by: u64, action: &Action) -> Outcome {
        let reject = Outcome::Rejected;
        match action {
            Action::Open => match self.status {
                SaleStatus::Scheduled => {
                    self.status = SaleStatus::Open;
                    Outcome::Opened
                }
                SaleStatus::Open => reject(Rejection::AlreadyOpen),
                SaleStatus::Closed => reject(Rejection::AlreadyClosed),
            },
            Action::Close => {
                if self.status == SaleStatus::Closed {
                    reject(Rejection::AlreadyClosed)
                } else {
                    self.status = SaleStatus::Closed;
                    Outcome::Closed
                }
            }
            Action::Join { .. } | Action::SetPowBits { .. } => Outcome::Rejected(Rejection::NoWaitingRoom),
            Action::Drop(DropAction::Click)
            | Action::Seated(SeatedAction::HoldSeats { .. })
            | Action::Seated(SeatedAction::HoldBest { .. })
            | Action::Seated(SeatedAction::ReleaseSeat { .. })
            | Action::Seated(SeatedAction::SwapSeat { .. }) => reject(Rejection::WrongSaleKind),
            Action::Stock(StockAction::Reserve { quantity }) => {
                let q = *quantity;
                if self.status == SaleStatus::Scheduled {
                    return reject(Rejection::NotOpenYet);
                }
                if self.status == SaleStatus::Closed {
                    return reject(Rejection::Closed);
                }
                let max = self.setup.order_quantity_max;
                if q == 0 || q > max {
                    return reject(Rejection::BadQuantity { max });
                }
                let mine = self.active_of(by);
                let remaining = self.setup.per_person_limit.saturating_sub(mine);
                if q > remaining {
                    return reject(Rejection::LimitReached { remaining });
                }
                let available = self.setup.stock - self.held() - self.sold();
                if u64::from(q) > available {
                    return reject(Rejection::SoldOut { available });
                }
                let hold = MHold {
                    id: self.holds.len() as u64 + 1,
                    by,
                    quantity: q,
                    status: HoldStatus::Held,
                    created_at_us: self.now,
                    expires_at_us: self.now + self.setup.hold_ttl_us,
                };
                let out = Outcome::Stock(StockOutcome::Held(self.as_hold(&hold)));
                self.holds.push(hold);
                out
            }
            Action::Confirm { hold } | Action::Cancel { hold } => {
                let Some(i) = self.holds.iter().position(|h| h.id == hold.0) else {
                    return reject(Rejection::UnknownHold);
                };
                if self.holds[i].by != by {
                    return reject(Rejection::NotYourHold);
                }
                match self.holds[i].status {
                    HoldStatus::Held => {}
                    HoldStatus::Expired => return reject(Rejection::HoldExpired),
                    _ => return reject(Rejection::HoldNotActive),
                }
                if matches!(action, Action::Confirm { .. }) {
                    self.holds[i].status = HoldStatus::Confirmed;
                    Outcome::Stock(StockOutcome::Confirmed(self.as_hold(&self.holds[i])))
                } else {
                    self.holds[i].status = HoldStatus::Cancelled;
                    Outcome::Stock(StockOutcome::Cancelled(self.as_hold(&self.holds[i])))
                }
            }
            Action::Refund { order } => {
                let Some(i) = self.holds.iter().position(|h| h.id == order.0) else {
                    return reject(Rejection::UnknownOrder);
                };
                if self.holds[i].by != by {
                    return reject(Rejection::NotYourHold);
                }
                match self.holds[i].status {
                    HoldStatus::Confirmed => {
                        self.holds[i].status = HoldStatus::Refunded;
                        Outcome::Stock(StockOutcome::Refunded(self.as_hold(&self.holds[i])))
                    }
                    HoldStatus::Refunded => reject(Rejection::AlreadyRefunded),
                    _ => reject(Rejection::UnknownOrder),
                }
            }
            // Editing and archiving have their own model (edit_model.rs); these runs never send them.
            Action::Edit(_) | Action::Archive | Action::Ticket(_) => {
                panic!("model: the stock runs do not edit, archive or scan")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The checked run: core and model side by side
// ---------------------------------------------------------------------------

struct Run {
    sale: Sale,
    model: Model,
    /// Holds the core has announced as expired, over the whole run.
    expired_seen: BTreeSet<u64>,
    /// First outcome the core gave per (person, key), with its action.
    first: BTreeMap<(u64, String), (Action, Outcome)>,
}

impl Run {
    fn new(setup: &Setup) -> Self {
        Run {
            sale: Sale::new(sale_config(setup)),
            model: Model::new(setup.clone()),
            expired_seen: BTreeSet::new(),
            first: BTreeMap::new(),
        }
    }

    /// Applies one input; a command whose key the sale already knows is
    /// applied after a tick to the same instant, so that its own effect (none)
    /// can be compared on the whole `Sale`.
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
        let stock = self.model.setup.stock;
        let limit = self.model.setup.per_person_limit;
        let before = book(&self.sale).view();
        let applied = self.sale.apply(input);
        let m = self.model.apply(input);
        let ctx = format!("input {input:?}");

        // The answer.
        prop_assert_eq!(&applied.outcome, &m.outcome, "{}", ctx);
        if let Input::Command(c) = input
            && m.acted
        {
            self.first.insert((c.by.0, c.key.as_str().to_owned()), (c.action.clone(), applied.outcome.clone()));
        }

        // The numbers: never oversold, equal to the model's recount.
        let (held, sold) = (self.model.held(), self.model.sold());
        prop_assert!(held + sold <= stock, "model oversold: held {held} + sold {sold} > {stock}; {ctx}");
        let view = book(&self.sale).view();
        prop_assert_eq!(&view, &StockView { total: stock, available: stock - held - sold, held, sold }, "{}", ctx);
        prop_assert_eq!(self.sale.check_invariants(), Ok(()), "{}", ctx);
        prop_assert_eq!(self.sale.view().status, self.model.status, "{}", ctx);

        // Per person.
        for u in 1..=USERS {
            let mine = self.model.active_of(u);
            prop_assert!(mine <= limit, "user {u} has {mine} > limit {limit}; {ctx}");
            prop_assert_eq!(book(&self.sale).quantity_of(UserId(u)), mine, "user {}; {}", u, ctx);
        }

        // Every hold, and no extra one.
        for h in &self.model.holds {
            let want = self.model.as_hold(h);
            prop_assert_eq!(book(&self.sale).hold(HoldId(h.id)), Some(&want), "{}", ctx);
        }
        let next = self.model.holds.len() as u64 + 1;
        prop_assert_eq!(book(&self.sale).hold(HoldId(next)), None, "{}", ctx);
        prop_assert_eq!(book(&self.sale).holds_after(HoldId(0), usize::MAX).count(), self.model.holds.len());

        // Expiry: announced once, with the model's holds, returning their stock once.
        let mut got: Vec<(u64, u64, u32)> = applied
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Hold { change: HoldChange::Expired, hold: HoldFact::Stock(h) } => {
                    Some((h.id.0, h.by.0, h.quantity))
                }
                _ => None,
            })
            .collect();
        got.sort_unstable();
        let mut want = m.expired.clone();
        want.sort_unstable();
        prop_assert_eq!(&got, &want, "expired holds; {}", ctx);
        for (id, _, _) in &got {
            prop_assert!(self.expired_seen.insert(*id), "hold {id} announced as expired twice; {ctx}");
        }
        let returned_by_expiry: u64 = got.iter().map(|(_, _, q)| u64::from(*q)).sum();
        let (taken, returned) = match (&applied.outcome, m.acted) {
            (Outcome::Stock(StockOutcome::Held(h)), true) => (u64::from(h.quantity), 0),
            (Outcome::Stock(StockOutcome::Cancelled(h)) | Outcome::Stock(StockOutcome::Refunded(h)), true) => {
                (0, u64::from(h.quantity))
            }
            _ => (0, 0),
        };
        prop_assert_eq!(
            view.available + taken,
            before.available + returned_by_expiry + returned,
            "available moved by more than expiry and the command; {}",
            ctx
        );

        // The command's own hold event: the hold as the outcome gives it, once.
        let command_holds: Vec<(HoldChange, &Hold)> = applied
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Hold { change, hold: HoldFact::Stock(h) } if *change != HoldChange::Expired => {
                    Some((*change, h))
                }
                _ => None,
            })
            .collect();
        let want_hold = match (&applied.outcome, m.acted) {
            (Outcome::Stock(StockOutcome::Held(h)), true) => vec![(HoldChange::Held, h)],
            (Outcome::Stock(StockOutcome::Confirmed(h)), true) => vec![(HoldChange::Confirmed, h)],
            (Outcome::Stock(StockOutcome::Cancelled(h)), true) => vec![(HoldChange::Cancelled, h)],
            (Outcome::Stock(StockOutcome::Refunded(h)), true) => vec![(HoldChange::Refunded, h)],
            _ => vec![],
        };
        prop_assert_eq!(command_holds, want_hold, "hold events; {}", ctx);

        // Events about stock and status.
        let stock_events: Vec<&StockView> = applied
            .events
            .iter()
            .filter_map(|e| match e {
                Event::StockChanged(v) => Some(v),
                _ => None,
            })
            .collect();
        let moves_stock = m.acted
            && matches!(
                applied.outcome,
                Outcome::Stock(StockOutcome::Held(_))
                    | Outcome::Stock(StockOutcome::Confirmed(_))
                    | Outcome::Stock(StockOutcome::Cancelled(_))
                    | Outcome::Stock(StockOutcome::Refunded(_))
            );
        if moves_stock {
            prop_assert_eq!(stock_events, vec![&view], "{}", ctx);
        } else {
            prop_assert!(stock_events.is_empty(), "stock event without a stock change; {ctx}");
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
        match input {
            Input::Tick { .. } => {
                let something = !m.expired.is_empty() || m.status_before != m.status_after;
                prop_assert_eq!(applied.changed, something, "tick changed flag; {}", ctx);
            }
            Input::Command(_) => prop_assert!(applied.changed, "a command always counts as a change"),
        }

        // Deadlines.
        let deadline = self.sale.next_deadline_us();
        if let Some(earliest) = self.model.earliest_expiry() {
            prop_assert!(
                deadline.is_some_and(|d| d <= earliest),
                "deadline {deadline:?} later than the earliest hold expiry {earliest}; {ctx}"
            );
        }
        prop_assert_eq!(deadline, self.model.deadline(), "{}", ctx);
        if let Some(d) = deadline {
            prop_assert!(d > self.model.now, "deadline {d} not in the future of {}; {ctx}", self.model.now);
            let mut probe = self.sale.clone();
            prop_assert!(probe.apply(&Input::Tick { at_us: d }).changed, "nothing happened at the deadline {d}");
            if d - 1 > self.model.now {
                let mut probe = self.sale.clone();
                prop_assert!(!probe.apply(&Input::Tick { at_us: d - 1 }).changed, "something happened before {d}");
            }
        }
        Ok(applied)
    }

    fn finish(&self) -> Result<(), TestCaseError> {
        let expired: BTreeSet<u64> =
            self.model.holds.iter().filter(|h| h.status == HoldStatus::Expired).map(|h| h.id).collect();
        prop_assert_eq!(&self.expired_seen, &expired, "expired holds announced vs expired");
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum OnHold {
    Confirm,
    Cancel,
    Refund,
}

/// An action, or one aimed at one of the author's own holds (picked when the
/// inputs are stamped, so that holds are actually paid for and given back).
#[derive(Clone, Debug)]
enum Act {
    Plain(Action),
    Own(OnHold, prop::sample::Index),
}

#[derive(Clone, Debug)]
enum Step {
    Tick {
        dt: i64,
    },
    Cmd {
        dt: i64,
        by: u64,
        key: u16,
        act: Act,
    },
    /// The previous command again, stamped with the previous input's time.
    RepeatLast,
    /// The previous command's person and key with this action, at the previous input's time.
    ReuseLastKey {
        act: Act,
    },
}

fn setup_strategy() -> impl Strategy<Value = Setup> {
    (
        0u64..=20,
        1u32..=5,
        1u32..=5,
        1i64..50,
        proptest::option::of(T0 - 20..T0 + 150),
        proptest::option::of(T0 + 100..T0 + 3_000),
    )
        .prop_map(|(stock, per_person_limit, order_quantity_max, hold_ttl_us, opens_at_us, closes_at_us)| Setup {
            stock,
            per_person_limit,
            order_quantity_max,
            hold_ttl_us,
            opens_at_us,
            closes_at_us,
        })
}

fn dt_strategy(backwards: bool) -> BoxedStrategy<i64> {
    if backwards {
        prop_oneof![4 => 0i64..5, 5 => 0i64..20, 1 => -20i64..0].boxed()
    } else {
        prop_oneof![4 => 0i64..5, 5 => 0i64..20].boxed()
    }
}

/// Mostly small ids, which exist; sometimes ones that do not yet.
fn hold_id_strategy() -> impl Strategy<Value = HoldId> {
    prop_oneof![3 => 1u64..=4, 2 => 1u64..=10].prop_map(HoldId)
}

fn act_strategy() -> impl Strategy<Value = Act> {
    let on_hold = prop_oneof![
        4 => Just(OnHold::Confirm),
        2 => Just(OnHold::Cancel),
        3 => Just(OnHold::Refund),
    ];
    // Close is rare: once closed, a sale only winds down.
    prop_oneof![
        8 => Just(Act::Plain(Action::Open)),
        1 => Just(Act::Plain(Action::Close)),
        40 => (0u32..=6).prop_map(|quantity| Act::Plain(Action::Stock(StockAction::Reserve { quantity }))),
        10 => hold_id_strategy().prop_map(|hold| Act::Plain(Action::Confirm { hold })),
        6 => hold_id_strategy().prop_map(|hold| Act::Plain(Action::Cancel { hold })),
        6 => hold_id_strategy().prop_map(|order| Act::Plain(Action::Refund { order })),
        30 => (on_hold, any::<prop::sample::Index>()).prop_map(|(op, pick)| Act::Own(op, pick)),
        2 => Just(Act::Plain(Action::Drop(DropAction::Click))),
    ]
}

/// Keys: a tiny pool reused all the time, and a wide range that rarely repeats.
fn key_strategy() -> impl Strategy<Value = u16> {
    prop_oneof![2 => 0u16..3, 3 => 100u16..10_000]
}

fn step_strategy(backwards: bool) -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => dt_strategy(backwards).prop_map(|dt| Step::Tick { dt }),
        12 => (dt_strategy(backwards), 1..=USERS, key_strategy(), act_strategy())
            .prop_map(|(dt, by, key, act)| Step::Cmd { dt, by, key, act }),
        2 => Just(Step::RepeatLast),
        1 => act_strategy().prop_map(|act| Step::ReuseLastKey { act }),
    ]
}

fn steps_strategy(backwards: bool) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step_strategy(backwards), 1..120)
}

/// Turns steps into stamped inputs. The clock may step back; inputs are then
/// late. A scratch sale fed the same inputs is consulted only to aim
/// [`Act::Own`] at one of the author's holds.
fn inputs(setup: &Setup, steps: &[Step]) -> Vec<Input> {
    let mut scratch = Sale::new(sale_config(setup));
    let mut clock = T0 - 30;
    let mut last_at = clock;
    let mut last_cmd: Option<Command> = None;
    let mut out = Vec::new();
    let resolve = |scratch: &Sale, by: u64, act: &Act| -> Action {
        match act {
            Act::Plain(a) => a.clone(),
            Act::Own(op, pick) => {
                let mine: Vec<HoldId> = book(scratch).holds_of(UserId(by)).map(|h| h.id).collect();
                // Usually the newest (likely still active), sometimes any.
                let hold = match (mine.last(), pick.index(3)) {
                    (None, _) => return Action::Stock(StockAction::Reserve { quantity: 1 }),
                    (Some(newest), 0 | 1) => *newest,
                    (Some(_), _) => mine[pick.index(mine.len())],
                };
                match op {
                    OnHold::Confirm => Action::Confirm { hold },
                    OnHold::Cancel => Action::Cancel { hold },
                    OnHold::Refund => Action::Refund { order: hold },
                }
            }
        }
    };
    for s in steps {
        let input = match s {
            Step::Tick { dt } => {
                clock += dt;
                Input::Tick { at_us: clock }
            }
            Step::Cmd { dt, by, key: k, act } => {
                clock += dt;
                let action = resolve(&scratch, *by, act);
                let c = Command { at_us: clock, by: UserId(*by), key: key(&format!("k{k}")), action };
                last_cmd = Some(c.clone());
                Input::Command(c)
            }
            Step::RepeatLast => match &last_cmd {
                Some(c) => Input::Command(Command { at_us: last_at, ..c.clone() }),
                None => continue,
            },
            Step::ReuseLastKey { act } => match &last_cmd {
                Some(c) => {
                    let action = resolve(&scratch, c.by.0, act);
                    let c = Command { at_us: last_at, action, ..c.clone() };
                    last_cmd = Some(c.clone());
                    Input::Command(c)
                }
                None => continue,
            },
        };
        scratch.apply(&input);
        last_at = input.at_us();
        out.push(input);
    }
    out
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The core agrees with the model after every input, and every listed
    /// safety property holds along the way.
    #[test]
    fn stock_sale_matches_the_model(
        setup in setup_strategy(),
        steps in steps_strategy(true),
    ) {
        let mut run = Run::new(&setup);
        for input in inputs(&setup, &steps) {
            run.drive(&input)?;
        }
        run.finish()?;
    }

    /// The properties every kind has (`kit/mod.rs`): determinism, replay
    /// without unchanged ticks, remembered keys doing nothing, invariants.
    #[test]
    fn stock_sale_has_the_generic_properties(
        setup in setup_strategy(),
        steps in steps_strategy(true),
        split in any::<prop::sample::Index>(),
    ) {
        kit::properties(&sale_config(&setup), &inputs(&setup, &steps), split)?;
    }


}

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

fn open_sale(stock: u64, per_person_limit: u32, order_quantity_max: u32, hold_ttl_us: i64) -> Sale {
    Sale::new(sale_config(&Setup {
        stock,
        per_person_limit,
        order_quantity_max,
        hold_ttl_us,
        opens_at_us: Some(0),
        closes_at_us: None,
    }))
}

fn held(outcome: &Outcome) -> HoldId {
    match outcome {
        Outcome::Stock(StockOutcome::Held(h)) => h.id,
        other => panic!("expected a hold, got {other:?}"),
    }
}

#[test]
fn sold_out_exactly_at_stock() {
    let mut sale = open_sale(5, 10, 5, 1_000);
    held(&sale.apply(&cmd(10, 1, "a", Action::Stock(StockAction::Reserve { quantity: 3 }))).outcome);
    held(&sale.apply(&cmd(11, 2, "a", Action::Stock(StockAction::Reserve { quantity: 2 }))).outcome);
    assert_eq!(book(&sale).view(), StockView { total: 5, available: 0, held: 5, sold: 0 });
    assert_eq!(
        sale.apply(&cmd(12, 3, "a", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome,
        Outcome::Rejected(Rejection::SoldOut { available: 0 })
    );
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn sold_out_reports_what_is_left() {
    let mut sale = open_sale(5, 10, 5, 1_000);
    held(&sale.apply(&cmd(10, 1, "a", Action::Stock(StockAction::Reserve { quantity: 4 }))).outcome);
    assert_eq!(
        sale.apply(&cmd(11, 2, "a", Action::Stock(StockAction::Reserve { quantity: 2 }))).outcome,
        Outcome::Rejected(Rejection::SoldOut { available: 1 })
    );
    held(&sale.apply(&cmd(12, 2, "b", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
}

#[test]
fn limit_counts_held_and_sold() {
    let mut sale = open_sale(100, 3, 5, 1_000);
    let first = held(&sale.apply(&cmd(10, 1, "a", Action::Stock(StockAction::Reserve { quantity: 2 }))).outcome);
    assert_eq!(
        sale.apply(&cmd(11, 1, "b", Action::Stock(StockAction::Reserve { quantity: 2 }))).outcome,
        Outcome::Rejected(Rejection::LimitReached { remaining: 1 })
    );
    assert!(matches!(
        sale.apply(&cmd(12, 1, "c", Action::Confirm { hold: first })).outcome,
        Outcome::Stock(StockOutcome::Confirmed(_))
    ));
    held(&sale.apply(&cmd(13, 1, "d", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    assert_eq!(
        sale.apply(&cmd(14, 1, "e", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome,
        Outcome::Rejected(Rejection::LimitReached { remaining: 0 })
    );
    // Someone else is not affected.
    held(&sale.apply(&cmd(15, 2, "a", Action::Stock(StockAction::Reserve { quantity: 3 }))).outcome);
    assert_eq!(book(&sale).quantity_of(UserId(1)), 3);
}

#[test]
fn expiry_frees_stock_exactly_at_expires_at() {
    let mut sale = open_sale(3, 3, 3, 10);
    let id = held(&sale.apply(&cmd(100, 1, "a", Action::Stock(StockAction::Reserve { quantity: 3 }))).outcome);
    assert_eq!(book(&sale).hold(id).map(|h| h.expires_at_us), Some(110));
    assert_eq!(sale.next_deadline_us(), Some(110));

    let before = sale.apply(&Input::Tick { at_us: 109 });
    assert!(!before.changed);
    assert_eq!(book(&sale).view().available, 0);

    let at = sale.apply(&Input::Tick { at_us: 110 });
    assert!(at.changed);
    assert_eq!(expiries(&at.events), vec![(id, UserId(1), 3, HoldStatus::Expired)]);
    assert_eq!(at.events.len(), 1, "{:?}", at.events);
    assert_eq!(book(&sale).view(), StockView { total: 3, available: 3, held: 0, sold: 0 });
    assert_eq!(sale.next_deadline_us(), None);

    // Too late to pay or give back; the stock is not returned a second time.
    assert_eq!(
        sale.apply(&cmd(111, 1, "b", Action::Confirm { hold: id })).outcome,
        Outcome::Rejected(Rejection::HoldExpired)
    );
    assert_eq!(
        sale.apply(&cmd(112, 1, "c", Action::Cancel { hold: id })).outcome,
        Outcome::Rejected(Rejection::HoldExpired)
    );
    assert!(sale.apply(&Input::Tick { at_us: 200 }).events.is_empty());
    assert_eq!(book(&sale).view().available, 3);
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn confirm_at_the_expiry_instant_is_too_late() {
    let mut sale = open_sale(3, 3, 3, 10);
    let id = held(&sale.apply(&cmd(100, 1, "a", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    let late = sale.apply(&cmd(110, 1, "b", Action::Confirm { hold: id }));
    assert_eq!(late.outcome, Outcome::Rejected(Rejection::HoldExpired));
    assert_eq!(expiries(&late.events), vec![(id, UserId(1), 1, HoldStatus::Expired)]);
    assert_eq!(late.events.len(), 1, "{:?}", late.events);
}

#[test]
fn refund_returns_stock_and_frees_the_limit() {
    let mut sale = open_sale(2, 2, 2, 1_000);
    let id = held(&sale.apply(&cmd(10, 1, "a", Action::Stock(StockAction::Reserve { quantity: 2 }))).outcome);
    assert!(matches!(
        sale.apply(&cmd(11, 1, "b", Action::Confirm { hold: id })).outcome,
        Outcome::Stock(StockOutcome::Confirmed(_))
    ));
    assert_eq!(book(&sale).view(), StockView { total: 2, available: 0, held: 0, sold: 2 });
    assert_eq!(
        sale.apply(&cmd(12, 2, "a", Action::Refund { order: id })).outcome,
        Outcome::Rejected(Rejection::NotYourHold)
    );

    let refund = sale.apply(&cmd(13, 1, "c", Action::Refund { order: id }));
    assert!(
        matches!(&refund.outcome, Outcome::Stock(StockOutcome::Refunded(h)) if h.status == HoldStatus::Refunded && h.quantity == 2)
    );
    assert_eq!(book(&sale).view(), StockView { total: 2, available: 2, held: 0, sold: 0 });
    assert_eq!(
        sale.apply(&cmd(14, 1, "d", Action::Refund { order: id })).outcome,
        Outcome::Rejected(Rejection::AlreadyRefunded)
    );
    assert_eq!(book(&sale).view().available, 2);
    held(&sale.apply(&cmd(15, 1, "e", Action::Stock(StockAction::Reserve { quantity: 2 }))).outcome);
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn repeated_key_returns_the_first_outcome() {
    let mut sale = open_sale(10, 5, 5, 1_000);
    let first = sale.apply(&cmd(10, 1, "buy", Action::Stock(StockAction::Reserve { quantity: 2 })));
    let after_first = sale.clone();
    let again = sale.apply(&cmd(10, 1, "buy", Action::Stock(StockAction::Reserve { quantity: 2 })));
    assert_eq!(again.outcome, first.outcome);
    assert!(again.events.is_empty());
    assert!(sale == after_first);
    let other = sale.apply(&cmd(10, 1, "buy", Action::Stock(StockAction::Reserve { quantity: 3 })));
    assert_eq!(other.outcome, Outcome::Rejected(Rejection::IdempotencyKeyReused));
    assert!(sale == after_first);
    // The same key from someone else is their own.
    held(&sale.apply(&cmd(10, 2, "buy", Action::Stock(StockAction::Reserve { quantity: 3 }))).outcome);
}

#[test]
fn a_late_input_happens_now() {
    let mut sale = open_sale(10, 5, 5, 10);
    sale.apply(&Input::Tick { at_us: 500 });
    let hold = match sale.apply(&cmd(400, 1, "a", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome {
        Outcome::Stock(StockOutcome::Held(h)) => h,
        other => panic!("expected a hold, got {other:?}"),
    };
    assert_eq!((hold.created_at_us, hold.expires_at_us), (500, 510));
}

#[test]
fn idempotency_keys_are_forgotten_after_the_ttl() {
    let mut sale = open_sale(10, 10, 1, 1_000);
    let first = held(&sale.apply(&cmd(10, 1, "k", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    let later = 10 + IDEMPOTENCY_TTL_US - 1;
    let again = sale.apply(&cmd(later, 1, "k", Action::Stock(StockAction::Reserve { quantity: 1 })));
    assert_eq!(held(&again.outcome), first, "still remembered just before the TTL");
    assert_eq!(sale.idempotency_len(), 1);
    let fresh = sale.apply(&cmd(10 + IDEMPOTENCY_TTL_US, 1, "k", Action::Stock(StockAction::Reserve { quantity: 1 })));
    assert_eq!(held(&fresh.outcome), HoldId(2), "forgotten once the TTL has passed: a new command");
    assert_eq!(sale.idempotency_len(), 1);
}

/// The expiries among `events`, as (hold, person, quantity, status after).
fn expiries(events: &[Event]) -> Vec<(HoldId, UserId, u32, HoldStatus)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Hold { change: HoldChange::Expired, hold: HoldFact::Stock(h) } => {
                Some((h.id, h.by, h.quantity, h.status))
            }
            _ => None,
        })
        .collect()
}
