//! The checkout scenario (issue 13): wallet checkouts on a priced stock sale.
//!
//! Setup creates the buyers, grants each one exactly what the sale's
//! per-person limit costs (`POST /api/admin/wallets/{user}/grant`, one
//! idempotency key per buyer and sale) and opens a stock sale at
//! [`PRICE_WON`] a unit. The load: every connection cycles through its share
//! of the buyers, and each checkout is a hold (`POST .../holds`) followed at
//! once by paying it from the wallet (`POST .../holds/{hold}/pay`, provider
//! `wallet`). A checkout is complete only when the payment answers `200`
//! with status `paid`. `409` sold-out or limit-reached to a hold is a correct
//! refusal; anything else (a `402`, a `409` to a payment, no answer) is an
//! error, and a checkout run is clean only with no errors.
//!
//! The read-back, once the load is over:
//! - the sale's sold units and revenue (`GET /api/sales/{id}/stats`) equal
//!   the units and money acknowledged as paid, and no order was refunded;
//! - every buyer's wallet holds the grant less what they paid, with nothing
//!   left reserved, so the money that left the wallets is the sale's revenue
//!   (the ledger's other accounts are not served; this is the balance that
//!   can be read over the API);
//! - every buyer holds one valid ticket of the sale per unit they paid for,
//!   each from one of their paid orders, and no ticket is anyone else's.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode, Uri};
use serde::Deserialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{GRACE, drive, provision, summary, user_indices};
use crate::api::{Api, SaleStats, StockState, TicketRow, VUser, WalletState, problem_type};
use crate::error::BenchError;
use crate::http::{self, Link, Target};
use crate::retry::{self, AnswerBy, Judged, Retry, Sent, Via};
use crate::stats::{Class, ConnStats, Live};
use crate::{BenchArgs, Scenario, Summary};

/// The price of a unit, in won: small, so that a buyer's grant for the whole
/// per-person limit stays far below the server's largest grant.
pub(crate) const PRICE_WON: u64 = 1000;

/// The most tickets `GET /api/me/tickets` lists for one buyer (the server's
/// `TICKETS_LIST_MAX`): the per-person limit is kept to it, so that every
/// ticket a buyer paid for can be read back.
pub(crate) const TICKETS_SHOWN_MAX: u32 = 500;

/// Connections used at once for the grants and the read-back.
const LANES: usize = 16;

/// The per-person limit of the run's sale.
fn per_person(args: &BenchArgs) -> u32 {
    args.limit.min(TICKETS_SHOWN_MAX)
}

pub(crate) fn validate(args: &BenchArgs) -> Result<(), BenchError> {
    let limit = per_person(args);
    if args.quantity > limit {
        return Err(BenchError::InvalidArgs(format!(
            "--quantity ({}) must be at most the checkout's per-person limit ({limit})",
            args.quantity
        )));
    }
    Ok(())
}

/// The priced stock sale: `--stock` units at [`PRICE_WON`], holds of an hour
/// (none expires while it is paid for), open at once.
fn sale_spec(args: &BenchArgs) -> serde_json::Value {
    serde_json::json!({
        "kind": "stock",
        "title": "stampede bench (checkout)",
        "description": "",
        "stock": args.stock,
        "price": PRICE_WON,
        "currency": "KRW",
        "per_person_limit": per_person(args),
        "order_quantity_max": args.quantity.max(1),
        "hold_seconds": 3600,
        "opens_at": null,
        "closes_at": null,
    })
}

/// Everything the connection tasks share.
struct Plan {
    target: Arc<Target>,
    live: Arc<Live>,
    users: Arc<Vec<VUser>>,
    connections: usize,
    holds_uri: Uri,
    /// `<base>/api/sales/{id}/holds/`, to which `{hold}/pay` is appended.
    pay_prefix: String,
    hold_body: Bytes,
    quantity: u64,
}

/// What one buyer was acknowledged as having paid for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Paid {
    units: u64,
    amount: u64,
    /// The paid orders (hold numbers).
    orders: Vec<u64>,
}

/// What one connection did.
struct ConnOut {
    /// By index into the users.
    buyers: Vec<(usize, Paid)>,
    checkouts: u64,
    /// Holds granted whose payment was not answered `paid` (the deadline
    /// came, or the payment failed): left held.
    unpaid_holds: u64,
    /// Paid answers whose amount was not quantity × price.
    wrong_amounts: u64,
    /// Microseconds from sending the hold to the `paid` answer.
    checkout: Histogram<u64>,
    hold: Histogram<u64>,
    pay: Histogram<u64>,
}

fn histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new(3).map_err(|e| BenchError::Internal(format!("histogram: {e}")))
}

fn record(h: &mut Histogram<u64>, since: std::time::Instant) {
    let micros = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
    if h.record(micros).is_err() {
        h.saturating_record(micros);
    }
}

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let (mut api, users, sale) = provision(args, target.clone(), sale_spec(args)).await?;
    let users = Arc::new(users);
    let grant = u64::from(per_person(args)) * PRICE_WON;
    let started = std::time::Instant::now();
    grant_all(args, &target, &users, grant, sale.id).await?;
    eprintln!(
        "bench: granted {grant} won to each of {} buyers in {:.1} s",
        users.len(),
        started.elapsed().as_secs_f64()
    );

    let connections = args.connections.min(users.len());
    let live = Arc::new(Live::default());
    let plan = Arc::new(Plan {
        holds_uri: target.uri(&format!("/api/sales/{}/holds", sale.id))?,
        pay_prefix: target.path(&format!("/api/sales/{}/holds/", sale.id)),
        target: target.clone(),
        live: live.clone(),
        users: users.clone(),
        connections,
        hold_body: Bytes::from(format!("{{\"quantity\":{}}}", args.quantity)),
        quantity: u64::from(args.quantity),
    });
    let driven = drive(args, connections, live, |conn, deadline| conn_task(plan.clone(), conn, deadline)).await?;

    let mut paid = vec![Paid::default(); users.len()];
    let (mut checkouts, mut unpaid_holds, mut wrong_amounts) = (0, 0, 0);
    let (mut checkout_h, mut hold_h, mut pay_h) = (histogram()?, histogram()?, histogram()?);
    for out in &driven.per_conn {
        for (i, p) in &out.buyers {
            paid[*i] = p.clone();
        }
        checkouts += out.checkouts;
        unpaid_holds += out.unpaid_holds;
        wrong_amounts += out.wrong_amounts;
        let merge = |into: &mut Histogram<u64>, h: &Histogram<u64>| {
            into.add(h).map_err(|e| BenchError::Internal(format!("histogram merge: {e:?}")))
        };
        merge(&mut checkout_h, &out.checkout)?;
        merge(&mut hold_h, &out.hold)?;
        merge(&mut pay_h, &out.pay)?;
    }

    // The read-back: reads wait on the server until its read models show
    // every answered command, so nothing here waits by the clock.
    let state = api.sale(sale.id).await?;
    let stock = state.stock.ok_or_else(|| BenchError::Protocol {
        method: "GET".into(),
        path: format!("/api/sales/{}", sale.id),
        reason: "a stock sale without `stock`".into(),
    })?;
    let stats = api.sale_stats(sale.id).await?;
    let seen = read_buyers(&target, &users).await?;

    let server_cpu = driven.server_cpu();
    let cpu_per_checkout = match driven.server_cpu_s {
        (Some(before), Some(after)) if checkouts > 0 => Some((after - before) * 1e6 / checkouts as f64),
        _ => None,
    };
    let elapsed_s = driven.elapsed_s;
    let mut s = summary(Scenario::Checkout, driven.totals, elapsed_s, connections);
    s.server_cpu = server_cpu;
    s.sale_id = Some(sale.id);
    let rate = if elapsed_s > 0.0 { checkouts as f64 / elapsed_s } else { 0.0 };
    let q = |h: &Histogram<u64>, quantile: f64| {
        if h.is_empty() { 0.0 } else { h.value_at_quantile(quantile) as f64 / 1000.0 }
    };
    s.extra.extend([
        ("checkouts".into(), checkouts.to_string()),
        ("checkouts_per_s".into(), format!("{rate:.1}")),
        ("checkout_p50_ms".into(), format!("{:.3}", q(&checkout_h, 0.5))),
        ("checkout_p99_ms".into(), format!("{:.3}", q(&checkout_h, 0.99))),
        ("checkout_p999_ms".into(), format!("{:.3}", q(&checkout_h, 0.999))),
        ("hold_p50_ms".into(), format!("{:.3}", q(&hold_h, 0.5))),
        ("hold_p99_ms".into(), format!("{:.3}", q(&hold_h, 0.99))),
        ("pay_p50_ms".into(), format!("{:.3}", q(&pay_h, 0.5))),
        ("pay_p99_ms".into(), format!("{:.3}", q(&pay_h, 0.99))),
    ]);
    if let Some(us) = cpu_per_checkout {
        s.extra.push(("server_cpu_us_per_checkout".into(), format!("{us:.1}")));
    }
    let books = Books { sale: sale.id, price: PRICE_WON, quantity: u64::from(args.quantity), grant, stock, stats };
    check(&mut s, &books, &paid, &seen, wrong_amounts);
    if unpaid_holds > 0 {
        s.notes.push(format!(
            "{unpaid_holds} holds were granted but not paid (the deadline came first, or the payment failed)"
        ));
    }
    s.extra.push(("sale".into(), sale.id.to_string()));
    Ok(s)
}

/// Grants `amount` won to every buyer, over [`LANES`] connections.
async fn grant_all(
    args: &BenchArgs,
    target: &Arc<Target>,
    users: &Arc<Vec<VUser>>,
    amount: u64,
    sale: u64,
) -> Result<(), BenchError> {
    let lanes = LANES.min(users.len()).max(1);
    let mut tasks = JoinSet::new();
    for lane in 0..lanes {
        let mut api = Api::new(target.clone(), args.admin_token.as_deref())?;
        let users = users.clone();
        tasks.spawn(async move {
            for i in user_indices(lane, lanes, users.len()) {
                // One key per buyer and sale: a grant whose answer was lost
                // is sent again without paying twice.
                let user = users[i].id;
                api.grant(user, amount, &format!("bench-checkout-{sale}-{user}")).await?;
            }
            Ok::<_, BenchError>(())
        });
    }
    join_all(tasks).await.map(drop)
}

/// Every buyer's wallet and tickets (in every sale), by index into `users`.
async fn read_buyers(
    target: &Arc<Target>,
    users: &Arc<Vec<VUser>>,
) -> Result<Vec<(WalletState, Vec<TicketRow>)>, BenchError> {
    let lanes = LANES.min(users.len()).max(1);
    let mut tasks = JoinSet::new();
    for lane in 0..lanes {
        let mut api = Api::new(target.clone(), None)?;
        let users = users.clone();
        tasks.spawn(async move {
            let mut seen = Vec::new();
            for i in user_indices(lane, lanes, users.len()) {
                let wallet = api.wallet(&users[i].auth).await?;
                let tickets = api.tickets(&users[i].auth).await?;
                seen.push((i, (wallet, tickets)));
            }
            Ok::<_, BenchError>(seen)
        });
    }
    let mut seen: Vec<_> = join_all(tasks).await?.into_iter().flatten().collect();
    seen.sort_by_key(|(i, _)| *i);
    Ok(seen.into_iter().map(|(_, s)| s).collect())
}

async fn join_all<T: 'static>(mut tasks: JoinSet<Result<T, BenchError>>) -> Result<Vec<T>, BenchError> {
    let mut out = Vec::with_capacity(tasks.len());
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(BenchError::Internal(format!("task: {e}")));
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// What the server says about the sale, and the run's terms.
struct Books {
    sale: u64,
    price: u64,
    quantity: u64,
    grant: u64,
    stock: StockState,
    stats: SaleStats,
}

/// The acknowledged payments against the sale's counters, the wallets and
/// the tickets: `violations`, `oversold`, the notes and the extras.
fn check(s: &mut Summary, books: &Books, paid: &[Paid], seen: &[(WalletState, Vec<TicketRow>)], wrong_amounts: u64) {
    let mut violations = wrong_amounts;
    if wrong_amounts > 0 {
        s.notes.push(format!("{wrong_amounts} payments answered an amount other than quantity x price"));
    }
    let units: u64 = paid.iter().map(|p| p.units).sum();
    let amount: u64 = paid.iter().map(|p| p.amount).sum();
    let (stock, stats) = (books.stock, books.stats);

    // The sale's books against what was acknowledged.
    if stats.sold != units {
        violations += 1;
        s.notes.push(format!("the sale counts {} units sold; {units} were acknowledged paid", stats.sold));
    }
    if stats.revenue != amount || amount != units * books.price {
        violations += 1;
        s.notes.push(format!(
            "revenue {} won, acknowledged paid {amount} won, {units} units x {} won = {} won",
            stats.revenue,
            books.price,
            units * books.price
        ));
    }
    if stats.refunds != 0 {
        violations += 1;
        s.notes.push(format!("{} orders were refunded; none was asked to be", stats.refunds));
    }
    s.oversold = (stock.held + stock.sold).saturating_sub(stock.total);
    let stock_adds_up = stock.held + stock.sold + stock.available == stock.total;
    if !stock_adds_up || (stock.held, stock.sold) != (stats.held, stats.sold) {
        violations += 1;
        s.notes.push(format!(
            "stock counts do not add up: held {} + sold {} + available {} against total {}; stats held {} sold {}",
            stock.held, stock.sold, stock.available, stock.total, stats.held, stats.sold
        ));
    }

    // The wallets: each holds its grant less what it paid, nothing reserved.
    let mut wrong_wallets = 0u64;
    let mut wallets_out = 0u64;
    for (i, (p, (wallet, _))) in paid.iter().zip(seen).enumerate() {
        wallets_out += books.grant.saturating_sub(wallet.balance);
        if wallet.balance != books.grant.saturating_sub(p.amount) || wallet.pending != 0 {
            if wrong_wallets < 5 {
                s.notes.push(format!(
                    "buyer #{i}: wallet balance {} pending {}; granted {} and paid {}",
                    wallet.balance, wallet.pending, books.grant, p.amount
                ));
            }
            wrong_wallets += 1;
        }
    }
    violations += wrong_wallets;
    if wallets_out != stats.revenue {
        violations += 1;
        s.notes.push(format!("{wallets_out} won left the wallets, but the sale's revenue is {} won", stats.revenue));
    }

    // The tickets: one valid ticket per paid unit, from the buyer's own paid orders.
    let mut wrong_tickets = 0u64;
    let mut tickets = 0u64;
    let mut ids = HashSet::new();
    for (i, (p, (_, rows))) in paid.iter().zip(seen).enumerate() {
        let mut per_order: HashMap<u64, u64> = p.orders.iter().map(|&o| (o, 0)).collect();
        let mut wrong = Vec::new();
        let mine: Vec<&TicketRow> = rows.iter().filter(|t| t.sale_id == books.sale).collect();
        tickets += mine.len() as u64;
        for t in &mine {
            if t.state != "valid" {
                wrong.push(format!("ticket {} is {}", t.ticket, t.state));
            }
            if !ids.insert(t.ticket) {
                wrong.push(format!("ticket {} is listed twice", t.ticket));
            }
            match per_order.get_mut(&t.order) {
                Some(n) => *n += 1,
                None => wrong.push(format!("ticket {} is for order {}, not one this buyer paid", t.ticket, t.order)),
            }
        }
        if mine.len() as u64 != p.units {
            wrong.push(format!("{} tickets for {} paid units", mine.len(), p.units));
        }
        if let Some((order, n)) = per_order.iter().find(|&(_, &n)| n != books.quantity) {
            wrong.push(format!("order {order} has {n} tickets for {} units", books.quantity));
        }
        if !wrong.is_empty() {
            if wrong_tickets < 5 {
                s.notes.push(format!("buyer #{i}: {}", wrong.join("; ")));
            }
            wrong_tickets += 1;
        }
    }
    violations += wrong_tickets;
    if wrong_wallets > 5 || wrong_tickets > 5 {
        s.notes.push(format!("{wrong_wallets} buyers' wallets and {wrong_tickets} buyers' tickets are wrong in all"));
    }

    s.violations += violations;
    s.extra.extend([
        ("sold".into(), stats.sold.to_string()),
        ("held".into(), stock.held.to_string()),
        ("paid_units".into(), units.to_string()),
        ("paid_won".into(), amount.to_string()),
        ("revenue_won".into(), stats.revenue.to_string()),
        ("wallets_out_won".into(), wallets_out.to_string()),
        ("wallets_wrong".into(), wrong_wallets.to_string()),
        ("tickets".into(), tickets.to_string()),
        ("tickets_wrong".into(), wrong_tickets.to_string()),
    ]);
}

#[derive(Deserialize)]
struct HoldAnswer {
    id: u64,
}

#[derive(Deserialize)]
struct PayAnswer {
    status: String,
    amount: u64,
}

/// What a hold's answer counts as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HoldRead {
    Held(u64),
    /// This buyer has reached the per-person limit.
    LimitReached,
    SoldOut,
    Other,
}

/// What a payment's answer counts as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PayRead {
    Paid { amount: u64 },
    Other,
}

fn judge_hold(status: StatusCode, body: &Bytes) -> Judged<HoldRead> {
    if status == StatusCode::CREATED {
        return match serde_json::from_slice::<HoldAnswer>(body) {
            Ok(hold) => Judged::new(Class::Ok, HoldRead::Held(hold.id)),
            Err(_) => Judged::unusable("(unparsable 201)", HoldRead::Other),
        };
    }
    if status == StatusCode::CONFLICT {
        match problem_type(body).as_deref() {
            Some("/problems/sold-out") => return Judged::new(Class::Rejected, HoldRead::SoldOut),
            Some("/problems/limit-reached") => return Judged::new(Class::Rejected, HoldRead::LimitReached),
            _ => {}
        }
    }
    Judged::new(Class::Error, HoldRead::Other)
}

fn judge_pay(status: StatusCode, body: &Bytes) -> Judged<PayRead> {
    if status != StatusCode::OK {
        return Judged::new(Class::Error, PayRead::Other);
    }
    match serde_json::from_slice::<PayAnswer>(body) {
        Ok(p) if p.status == "paid" => Judged::new(Class::Ok, PayRead::Paid { amount: p.amount }),
        Ok(_) => Judged::unusable("(200 not paid)", PayRead::Other),
        Err(_) => Judged::unusable("(unparsable 200)", PayRead::Other),
    }
}

async fn conn_task(plan: Arc<Plan>, conn: usize, deadline: Instant) -> Result<(ConnStats, ConnOut), BenchError> {
    let mut stats = ConnStats::new()?;
    let mine: Vec<usize> = user_indices(conn, plan.connections, plan.users.len()).collect();
    let mut paid = vec![Paid::default(); mine.len()];
    let mut done = vec![false; mine.len()];
    let mut out = ConnOut {
        buyers: Vec::new(),
        checkouts: 0,
        unpaid_holds: 0,
        wrong_amounts: 0,
        checkout: histogram()?,
        hold: histogram()?,
        pay: histogram()?,
    };
    let live = &*plan.live;
    let mut link = Link::new(plan.target.clone());
    let limit = deadline + GRACE;
    // Keys are unique per connection, hence per buyer (a buyer has one connection).
    let key_base = (conn as u64) << 40;
    let mut seq = 0u64;
    let mut next = 0usize;
    let pay_body = Bytes::from_static(br#"{"provider":"wallet"}"#);

    while Instant::now() < deadline && !mine.is_empty() {
        // The next buyer who may still buy; none left ends this connection.
        let Some(slot) = (0..mine.len()).map(|k| (next + k) % mine.len()).find(|&k| !done[k]) else { break };
        next = (slot + 1) % mine.len();
        let user = &plan.users[mine[slot]];
        let started = std::time::Instant::now();

        seq += 1;
        let key = HeaderValue::from(key_base | seq);
        let make = || {
            let body = Some(plan.hold_body.clone());
            http::request(&plan.target, Method::POST, plan.holds_uri.clone(), Some(&user.auth), Some(key.clone()), body)
        };
        // Every attempt carries the step's key: a repeat cannot take effect twice.
        let mut via = Via::Link { link: &mut link, stats: &mut stats, live };
        let retry = Retry::until(deadline).answer_by(AnswerBy::At(limit));
        let Sent::Answer(answer) = retry::send(&mut via, retry, make, judge_hold).await? else { continue };
        record(&mut out.hold, started);
        let hold = match answer.value {
            HoldRead::Held(hold) => hold,
            HoldRead::LimitReached => {
                done[slot] = true;
                continue;
            }
            HoldRead::SoldOut => break,
            HoldRead::Other => continue,
        };

        seq += 1;
        let key = HeaderValue::from(key_base | seq);
        let uri: Uri = format!("{}{hold}/pay", plan.pay_prefix)
            .parse()
            .map_err(|e| BenchError::Internal(format!("pay uri: {e}")))?;
        let make = || {
            let body = Some(pay_body.clone());
            http::request(&plan.target, Method::POST, uri.clone(), Some(&user.auth), Some(key.clone()), body)
        };
        let paying = std::time::Instant::now();
        let mut via = Via::Link { link: &mut link, stats: &mut stats, live };
        let retry = Retry::until(deadline).answer_by(AnswerBy::At(limit));
        let sent = retry::send(&mut via, retry, make, judge_pay).await?;
        let Sent::Answer(answer) = sent else {
            out.unpaid_holds += 1;
            continue;
        };
        record(&mut out.pay, paying);
        let PayRead::Paid { amount } = answer.value else {
            out.unpaid_holds += 1;
            continue;
        };
        record(&mut out.checkout, started);
        if amount != plan.quantity * PRICE_WON {
            out.wrong_amounts += 1;
        }
        let p = &mut paid[slot];
        p.units += plan.quantity;
        p.amount += amount;
        p.orders.push(hold);
        out.checkouts += 1;
    }
    out.buyers = mine.into_iter().zip(paid).collect();
    Ok((stats, out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const SALE: u64 = 7;

    fn ticket(ticket: u64, order: u64, state: &str) -> TicketRow {
        TicketRow { sale_id: SALE, ticket, order, state: state.into() }
    }

    fn books(sold: u64, revenue: u64) -> Books {
        Books {
            sale: SALE,
            price: 1000,
            quantity: 1,
            grant: 5000,
            stock: StockState { total: 100, available: 100 - sold - 1, held: 1, sold },
            stats: SaleStats { held: 1, sold, revenue, refunds: 0 },
        }
    }

    fn checked(books: &Books, paid: &[Paid], seen: &[(WalletState, Vec<TicketRow>)]) -> Summary {
        let mut s = Summary { scenario: Scenario::Checkout, ..Summary::default() };
        check(&mut s, books, paid, seen, 0);
        s
    }

    fn extra(s: &Summary, key: &str) -> String {
        s.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap()
    }

    #[test]
    fn balanced_books_pass_and_each_kind_of_wrong_is_caught() {
        let paid = vec![
            Paid { units: 2, amount: 2000, orders: vec![1, 3] },
            Paid { units: 1, amount: 1000, orders: vec![2] },
            Paid::default(),
        ];
        let wallet = |balance| WalletState { balance, pending: 0 };
        let seen = vec![
            (wallet(3000), vec![ticket(10, 1, "valid"), ticket(12, 3, "valid")]),
            // A ticket of another sale is no part of this one.
            (wallet(4000), vec![ticket(11, 2, "valid"), TicketRow { sale_id: 3, ..ticket(1, 1, "valid") }]),
            (wallet(5000), vec![]),
        ];
        let fine = checked(&books(3, 3000), &paid, &seen);
        assert_eq!(fine.violations, 0, "{:?}", fine.notes);
        assert!(fine.is_clean());
        assert_eq!((extra(&fine, "tickets"), extra(&fine, "wallets_out_won")), ("3".into(), "3000".into()));

        // The sale counts a unit nobody was told they paid for.
        let s = checked(&books(4, 4000), &paid, &seen);
        assert!(s.violations >= 2, "{:?}", s.notes);
        assert!(s.notes.iter().any(|n| n.contains("4 units sold; 3 were")), "{:?}", s.notes);

        // Money taken twice from a wallet, and money left reserved.
        let mut bad = seen.clone();
        bad[0].0 = wallet(2000);
        bad[1].0 = WalletState { balance: 4000, pending: 1000 };
        let s = checked(&books(3, 3000), &paid, &bad);
        assert_eq!(extra(&s, "wallets_wrong"), "2");
        assert!(s.notes.iter().any(|n| n.contains("4000 won left the wallets")), "{:?}", s.notes);
        assert!(!s.is_clean());

        // A missing ticket, a revoked one, one for an order not paid, one listed twice.
        let mut bad = seen.clone();
        bad[0].1 = vec![ticket(10, 1, "valid")];
        bad[1].1 = vec![ticket(11, 2, "revoked")];
        bad[2].1 = vec![ticket(11, 9, "valid")];
        let s = checked(&books(3, 3000), &paid, &bad);
        assert_eq!(extra(&s, "tickets_wrong"), "3", "{:?}", s.notes);
        assert_eq!(s.violations, 3);
        assert!(s.notes.iter().any(|n| n.contains("1 tickets for 2 paid units")), "{:?}", s.notes);
        assert!(s.notes.iter().any(|n| n.contains("ticket 11 is revoked")), "{:?}", s.notes);
        assert!(s.notes.iter().any(|n| n.contains("listed twice")), "{:?}", s.notes);
        assert!(s.notes.iter().any(|n| n.contains("not one this buyer paid")), "{:?}", s.notes);
    }

    #[test]
    fn errors_make_a_checkout_run_unclean() {
        let s = Summary { scenario: Scenario::Checkout, errors: 1, ..Summary::default() };
        assert!(!s.is_clean());
        assert!(Summary { scenario: Scenario::Stock, errors: 1, ..Summary::default() }.is_clean());
    }

    #[test]
    fn answers_are_judged() {
        let held = judge_hold(StatusCode::CREATED, &Bytes::from_static(br#"{"id":5}"#));
        assert!(held.value == HoldRead::Held(5) && held.class == Class::Ok);
        let limit = judge_hold(StatusCode::CONFLICT, &Bytes::from_static(br#"{"type":"/problems/limit-reached"}"#));
        assert!(limit.value == HoldRead::LimitReached && limit.class == Class::Rejected);
        let paid = judge_pay(StatusCode::OK, &Bytes::from_static(br#"{"status":"paid","amount":1000}"#));
        assert!(paid.value == PayRead::Paid { amount: 1000 } && paid.class == Class::Ok);
        let short =
            judge_pay(StatusCode::PAYMENT_REQUIRED, &Bytes::from_static(br#"{"type":"/problems/insufficient-funds"}"#));
        assert!(short.value == PayRead::Other && short.class == Class::Error);
    }
}
