//! What a simulated run does, drawn from its seed before it starts: the sales
//! it creates and the list of operations (client requests in batches, clock
//! moves, faults, crashes, snapshots).
//!
//! Operations name what they act on indirectly ("the 7th hold this sale has
//! handed out", "the 3rd request ever sent"), resolved against the run as it
//! goes, so a plan stays meaningful when the shrinker removes operations.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use stampede_core::{
    AdmissionPolicy, DropConfig, KindConfig, QueueConfig, SaleConfig, SeatedConfig, SectionSpec, StockConfig, US_PER_S,
    UserId, generate,
};

/// Where virtual time starts (2023-11-14), so times look like real ones.
pub const START_US: i64 = 1_700_000_000_000_000;
/// The organizer of every simulated sale.
pub const ORGANIZER: UserId = UserId(1_000);

/// A run: its seed, its sales and its operations.
#[derive(Clone, Debug)]
pub struct Plan {
    pub seed: u64,
    pub sales: Vec<SaleConfig>,
    /// Buyers are `UserId(1..=users)`.
    pub users: u64,
    pub ops: Vec<Op>,
    /// For tests of the checks themselves: the entry of the request with this
    /// number (1-based, counting every request sent) is dropped from its
    /// batch, as an engine that decided something but never logged it would.
    /// `None` in every drawn plan.
    pub unlogged_request: Option<u64>,
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Requests that arrive together: applied in order, committed in one append.
    Batch(Vec<Req>),
    /// The virtual clock moves by this much (negative: the wall clock stepped back).
    Clock { us: i64 },
    /// The clock moves to the earliest deadline of any sale, where a timer fires.
    ToDeadline,
    /// The next append fails with nothing stored, or is torn after `keep` entries.
    Fault { tear: Option<usize> },
    /// The process dies: memory is gone, and the engine restarts from the log.
    Crash,
    /// A snapshot of a sale is stored beside the log (recovery starts from it).
    Snapshot { sale: usize },
}

/// One client request, before it is resolved against the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Req {
    /// Index into the plan's sales (taken modulo their number).
    pub sale: usize,
    pub user: u64,
    pub kind: ReqKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReqKind {
    /// Take something: reserve `n` units, click, or hold `n` seats starting at seat `at`.
    Take {
        n: u32,
        at: u32,
    },
    /// Hold the best `n` adjacent seats (elsewhere: like `Take`).
    TakeBest {
        n: u32,
    },
    /// Confirm (pay for) a hold handed out earlier; `own`: by its booker, else by `user`.
    Confirm {
        pick: usize,
        own: bool,
    },
    Cancel {
        pick: usize,
        own: bool,
    },
    Refund {
        pick: usize,
        own: bool,
    },
    /// Give back one seat of a hold or order.
    Release {
        pick: usize,
        seat: usize,
    },
    /// Exchange one seat of a hold or order for seat `to`.
    Swap {
        pick: usize,
        seat: usize,
        to: u32,
    },
    /// Take a place in the waiting room, from network address `address`.
    Join {
        address: u64,
    },
    /// The organizer opens or closes the sale.
    Open,
    Close,
    /// Resend a request sent earlier (any time, lost or not) with its key and body.
    Retry {
        pick: usize,
    },
    /// Reuse an earlier request's key with another body.
    Conflict {
        pick: usize,
    },
    /// Resend the request sent just before this one: a concurrent duplicate.
    Again,
}

/// Draws a plan of `steps` operations from `seed`.
pub fn draw(seed: u64, steps: usize) -> Plan {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let users = rng.random_range(4..=14);
    let sales = draw_sales(&mut rng);
    let n_sales = sales.len();
    let mut ops = Vec::with_capacity(steps);
    for _ in 0..steps {
        ops.push(draw_op(&mut rng, n_sales, users));
    }
    Plan { seed, sales, users, ops, unlogged_request: None }
}

fn draw_sales(rng: &mut Xoshiro256PlusPlus) -> Vec<SaleConfig> {
    let opens = |rng: &mut Xoshiro256PlusPlus| {
        // Some open on schedule (a timer), the rest by the organizer.
        rng.random_bool(0.6).then(|| START_US + rng.random_range(0..3 * US_PER_S))
    };
    let stock = |rng: &mut Xoshiro256PlusPlus| {
        let limit = rng.random_range(1..=5);
        KindConfig::Stock(StockConfig {
            stock: rng.random_range(1..=30),
            price: rng.random_range(1..=50_000),
            per_person_limit: limit,
            order_quantity_max: rng.random_range(1..=limit),
            hold_ttl_us: rng.random_range(1..=30) * US_PER_S / 2,
        })
    };
    let queue = |rng: &mut Xoshiro256PlusPlus| QueueConfig {
        policy: if rng.random_bool(0.5) {
            AdmissionPolicy::Active { max: rng.random_range(1..=3) }
        } else {
            AdmissionPolicy::Chunk { size: rng.random_range(1..=3), every_us: rng.random_range(1..=5) * US_PER_S }
        },
        pass_ttl_us: rng.random_range(2..=20) * US_PER_S,
        prequeue_opens_at_us: None,
        pow_bits: 0,
        places_per_address: rng.random_range(1..=4),
        seed: rng.random(),
        pass_up_to_limit: true,
    };
    let venue = |rng: &mut Xoshiro256PlusPlus| {
        let specs: Vec<SectionSpec> = (0..rng.random_range(1..=2))
            .map(|i| SectionSpec {
                name: format!("S{i}"),
                tier: if i == 0 { "R".into() } else { "S".into() },
                price: rng.random_range(1..=90_000),
                colour: "#336699".into(),
                rows: rng.random_range(1..=4),
                seats_per_row: rng.random_range(2..=8),
                x: i * 400,
                y: 0,
                curve_degrees: 0.0,
                spacing: 10,
            })
            .collect();
        generate("Sim hall", &specs)
    };
    let mut sales = Vec::new();
    let mut push = |kind: KindConfig, queue: Option<QueueConfig>, opens_at_us: Option<i64>| {
        sales.push(SaleConfig {
            title: format!("sim sale {}", sales.len() + 1),
            description: String::new(),
            owner: ORGANIZER,
            currency: "KRW".into(),
            opens_at_us,
            closes_at_us: None,
            kind,
            queue,
            translations: Vec::new(),
        });
    };
    let o = opens(rng);
    push(stock(rng), None, o);
    let (k, o) = (KindConfig::Drop(DropConfig { winners: rng.random_range(1..=6) }), opens(rng));
    let q = rng.random_bool(0.4).then(|| queue(rng));
    push(k, q, o);
    if let Ok(v) = venue(rng) {
        let limit = rng.random_range(1..=6);
        let k = KindConfig::Seated(SeatedConfig {
            venue: v,
            per_person_limit: limit,
            seats_per_hold_max: rng.random_range(1..=limit),
            hold_ttl_us: rng.random_range(1..=30) * US_PER_S / 2,
        });
        let o = opens(rng);
        let q = rng.random_bool(0.3).then(|| queue(rng));
        push(k, q, o);
    }
    let (k, q, o) = (stock(rng), Some(queue(rng)), opens(rng));
    push(k, q, o);
    sales
}

fn draw_op(rng: &mut Xoshiro256PlusPlus, sales: usize, users: u64) -> Op {
    match rng.random_range(0..100) {
        0..55 => {
            // Mostly a few requests at once; now and then a burst.
            let n = if rng.random_bool(0.1) { rng.random_range(5..=24) } else { rng.random_range(1..=4) };
            Op::Batch((0..n).map(|_| draw_req(rng, sales, users)).collect())
        }
        55..79 => Op::Clock {
            us: match rng.random_range(0..100) {
                0..3 => -rng.random_range(1..=2 * US_PER_S),
                3..5 => rng.random_range(30..=120) * US_PER_S,
                _ => rng.random_range(0..=3 * US_PER_S),
            },
        },
        79..89 => Op::ToDeadline,
        89..94 => Op::Fault { tear: rng.random_bool(0.6).then(|| rng.random_range(0..=6)) },
        94..97 => Op::Crash,
        _ => Op::Snapshot { sale: rng.random_range(0..sales) },
    }
}

fn draw_req(rng: &mut Xoshiro256PlusPlus, sales: usize, users: u64) -> Req {
    let pick = rng.random_range(0..1 << 16);
    let own = rng.random_bool(0.85);
    let kind = match rng.random_range(0..1000) {
        0..280 => {
            ReqKind::Take { n: if rng.random_bool(0.05) { 0 } else { rng.random_range(1..=3) }, at: rng.random() }
        }
        280..340 => ReqKind::TakeBest { n: rng.random_range(1..=4) },
        340..520 => ReqKind::Confirm { pick, own },
        520..580 => ReqKind::Cancel { pick, own },
        580..630 => ReqKind::Refund { pick, own },
        630..660 => ReqKind::Release { pick, seat: rng.random_range(0..4) },
        660..700 => ReqKind::Swap { pick, seat: rng.random_range(0..4), to: rng.random() },
        700..800 => ReqKind::Join { address: rng.random_range(0..6) },
        800..840 => ReqKind::Open,
        840..843 => ReqKind::Close,
        843..920 => ReqKind::Retry { pick },
        920..950 => ReqKind::Conflict { pick },
        _ => ReqKind::Again,
    };
    Req { sale: rng.random_range(0..sales), user: rng.random_range(1..=users), kind }
}
