//! The stock scenario: every connection cycles through its share of the users
//! sending `POST /api/sales/{id}/holds`, optionally confirming each granted
//! hold. `201` is ok; `409` sold-out or limit-reached is a correct rejection;
//! anything else is an error. A command that got no answer (or `503`) is
//! retried ([`crate::retry`]) with the same idempotency key, so it cannot take
//! effect twice.
//!
//! Afterwards, oversold is the sum of: `held + sold - total` from the server
//! (if positive), the acknowledged quantity beyond the stock, and the number of
//! users acknowledged beyond the per-person limit.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode, Uri};
use serde::Deserialize;
use tokio::time::Instant;

use super::{GRACE, ack_sender, ack_writer, drive, provision, summary, user_indices};
use crate::acked::{Ack, AckRecord, AckSender};
use crate::api::{StockState, VUser, problem_type};
use crate::error::BenchError;
use crate::http::{self, Link, Target};
use crate::retry::{self, AnswerBy, Judged, Retry, Sent, Via};
use crate::stats::{Class, ConnStats, Live};
use crate::{BenchArgs, Scenario, Summary};

/// Everything the connection tasks share.
struct Plan {
    target: Arc<Target>,
    live: Arc<Live>,
    users: Vec<VUser>,
    connections: usize,
    sale: u64,
    holds_uri: Uri,
    /// `<base>/api/sales/{id}/holds/`, to which `{hold}/confirm` is appended.
    confirm_prefix: String,
    body: Bytes,
    quantity: u64,
    limit: u64,
    confirm: bool,
    acks: Option<AckSender>,
}

/// What one connection acknowledged.
#[derive(Debug, Default)]
struct Acked {
    quantity: u64,
    holds: u64,
    orders: u64,
    over_limit_users: u64,
}

#[derive(Clone, Copy)]
enum Job {
    Hold { slot: usize, key: u64 },
    Confirm { slot: usize, hold: u64, key: u64 },
}

#[derive(Deserialize)]
struct HoldAnswer {
    id: u64,
}

/// The stock sale a run holds on: `--stock` units, `--limit` per person,
/// holds of an hour (so none expires during a run), open at once.
pub(crate) fn sale_spec(args: &BenchArgs, title: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "stock",
        "title": title,
        "description": "",
        "stock": args.stock,
        // Free: the scenario measures holds and confirms, not payments (a
        // priced hold is confirmed only by paying for it).
        "price": 0,
        "currency": "KRW",
        "per_person_limit": args.limit,
        "order_quantity_max": args.quantity.max(1),
        "hold_seconds": 3600,
        "opens_at": null,
        "closes_at": null,
    })
}

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let spec = sale_spec(args, "stampede bench (stock)");
    let writer = ack_writer(args)?;
    let (mut api, users, sale) = provision(args, target.clone(), spec).await?;
    let connections = args.connections.min(users.len());
    let live = Arc::new(Live::default());
    let plan = Arc::new(Plan {
        holds_uri: target.uri(&format!("/api/sales/{}/holds", sale.id))?,
        confirm_prefix: target.path(&format!("/api/sales/{}/holds/", sale.id)),
        target,
        live: live.clone(),
        users,
        connections,
        sale: sale.id,
        body: Bytes::from(format!("{{\"quantity\":{}}}", args.quantity)),
        quantity: u64::from(args.quantity),
        limit: u64::from(args.limit),
        confirm: args.confirm,
        acks: ack_sender(&writer),
    });
    let driven = drive(args, connections, live, |conn, deadline| conn_task(plan.clone(), conn, deadline)).await;
    // The tasks are done: the last sender goes with the plan, then flush.
    drop(plan);
    if let Some(writer) = writer {
        writer.finish()?;
    }
    let driven = driven?;

    let mut acked = Acked::default();
    for a in &driven.per_conn {
        acked.quantity += a.quantity;
        acked.holds += a.holds;
        acked.orders += a.orders;
        acked.over_limit_users += a.over_limit_users;
    }
    let state = api.sale(sale.id).await?;
    let stock = state.stock.ok_or_else(|| BenchError::Protocol {
        method: "GET".into(),
        path: format!("/api/sales/{}", sale.id),
        reason: "a stock sale without `stock`".into(),
    })?;

    let server_cpu = driven.server_cpu();
    let mut s = summary(Scenario::Stock, driven.totals, driven.elapsed_s, connections);
    s.server_cpu = server_cpu;
    s.sale_id = Some(sale.id);
    check(&mut s, &acked, stock, args.stock, u64::from(args.limit));
    s.extra.push(("sale".into(), sale.id.to_string()));
    Ok(s)
}

/// The acknowledged quantities against the stock, the per-person limit and
/// the server's counters: `oversold`, the notes and the counters' extras.
fn check(s: &mut Summary, acked: &Acked, stock: StockState, stock_units: u64, limit: u64) {
    let server_over = (stock.held + stock.sold).saturating_sub(stock.total);
    let acked_over = acked.quantity.saturating_sub(stock_units);
    s.oversold = server_over + acked_over + acked.over_limit_users;
    if server_over > 0 {
        s.notes.push(format!("server counts held {} + sold {} > total {}", stock.held, stock.sold, stock.total));
    }
    if acked_over > 0 {
        s.notes.push(format!("acknowledged {} units of a stock of {}", acked.quantity, stock_units));
    }
    if acked.over_limit_users > 0 {
        s.notes.push(format!("{} users were acknowledged more than the limit of {}", acked.over_limit_users, limit));
    }
    if stock.held + stock.sold + stock.available != stock.total {
        s.notes.push(format!(
            "server counts do not add up: held {} + sold {} + available {} != total {}",
            stock.held, stock.sold, stock.available, stock.total
        ));
    }
    if acked.quantity > stock.held + stock.sold {
        s.notes.push(format!(
            "acknowledged {} units but the server counts only {} held or sold \
             (expired or lost holds?)",
            acked.quantity,
            stock.held + stock.sold
        ));
    }
    s.notes.push(format!("acknowledged {} holds and {} orders", acked.holds, acked.orders));
    s.extra.extend([
        ("stock".into(), stock.total.to_string()),
        ("held".into(), stock.held.to_string()),
        ("sold".into(), stock.sold.to_string()),
        ("available".into(), stock.available.to_string()),
        ("acked_qty".into(), acked.quantity.to_string()),
    ]);
}

/// What a command's answer counts as, and what was read from it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    /// A `201` granting this hold.
    Held(u64),
    /// A `201` that could not be read (granted, but unusable).
    Unreadable,
    /// A `200` to a confirmation.
    Confirmed,
    /// A correct refusal (`409` sold-out or limit-reached to a hold).
    Refused,
    Other,
}

/// Counts an answer to `job` and reads it.
fn judge(job: Job, status: StatusCode, body: &Bytes) -> Judged<Read> {
    match job {
        Job::Hold { .. } if status == StatusCode::CREATED => match serde_json::from_slice::<HoldAnswer>(body) {
            Ok(hold) => Judged::new(Class::Ok, Read::Held(hold.id)),
            Err(_) => Judged::unusable("(unparsable 201)", Read::Unreadable),
        },
        Job::Confirm { .. } if status == StatusCode::OK => Judged::new(Class::Ok, Read::Confirmed),
        Job::Hold { .. }
            if status == StatusCode::CONFLICT
                && matches!(problem_type(body).as_deref(), Some("/problems/sold-out" | "/problems/limit-reached")) =>
        {
            Judged::new(Class::Rejected, Read::Refused)
        }
        _ => Judged::new(Class::Error, Read::Other),
    }
}

async fn conn_task(plan: Arc<Plan>, conn: usize, deadline: Instant) -> Result<(ConnStats, Acked), BenchError> {
    let mut stats = ConnStats::new()?;
    let mine: Vec<usize> = user_indices(conn, plan.connections, plan.users.len()).collect();
    let mut acked_qty = vec![0u64; mine.len()];
    let mut out = Acked::default();
    if mine.is_empty() {
        return Ok((stats, out));
    }
    let live = &*plan.live;
    let mut link = Link::new(plan.target.clone());
    let limit = deadline + GRACE;
    // Keys are unique per connection, hence per user (a user has one connection).
    let key_base = (conn as u64) << 40;
    let mut seq = 0u64;
    let mut next_slot = 0usize;
    let mut pending: Option<Job> = None;

    while Instant::now() < deadline {
        let job = pending.take().unwrap_or_else(|| {
            let slot = next_slot;
            next_slot = (next_slot + 1) % mine.len();
            seq += 1;
            Job::Hold { slot, key: key_base | seq }
        });
        let (slot, uri, key, body) = match job {
            Job::Hold { slot, key } => (slot, plan.holds_uri.clone(), key, Some(plan.body.clone())),
            Job::Confirm { slot, hold, key } => {
                let uri: Uri = format!("{}{hold}/confirm", plan.confirm_prefix)
                    .parse()
                    .map_err(|e| BenchError::Internal(format!("confirm uri: {e}")))?;
                (slot, uri, key, None)
            }
        };
        let user = &plan.users[mine[slot]];
        let make = || {
            let key = Some(HeaderValue::from(key));
            http::request(&plan.target, Method::POST, uri.clone(), Some(&user.auth), key, body.clone())
        };
        // Every attempt carries the job's key: a repeat cannot take effect twice.
        let mut via = Via::Link { link: &mut link, stats: &mut stats, live };
        let retry = Retry::until(deadline).answer_by(AnswerBy::At(limit));
        // No answer before the deadline or within the attempts: the job is
        // dropped (whatever it did is not acknowledged).
        let Sent::Answer(answer) = retry::send(&mut via, retry, make, |status, body| judge(job, status, body)).await?
        else {
            continue;
        };
        match (job, answer.value) {
            (Job::Hold { .. }, Read::Held(_) | Read::Unreadable) => {
                // Granted: counted in the quantity even when unusable.
                acked_qty[slot] += plan.quantity;
                out.quantity += plan.quantity;
                out.holds += 1;
                if let Read::Held(hold) = answer.value {
                    if let Some(acks) = &plan.acks {
                        acks.send(AckRecord {
                            sale: plan.sale,
                            user: user.id,
                            what: Ack::Hold { hold, quantity: plan.quantity },
                        });
                    }
                    if plan.confirm {
                        seq += 1;
                        pending = Some(Job::Confirm { slot, hold, key: key_base | seq });
                    }
                }
            }
            (Job::Confirm { hold, .. }, Read::Confirmed) => {
                out.orders += 1;
                if let Some(acks) = &plan.acks {
                    acks.send(AckRecord {
                        sale: plan.sale,
                        user: user.id,
                        what: Ack::Order { hold, quantity: plan.quantity },
                    });
                }
            }
            _ => {}
        }
    }
    out.over_limit_users = acked_qty.iter().filter(|&&q| q > plan.limit).count() as u64;
    Ok((stats, out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn checked(acked: Acked, stock: StockState) -> Summary {
        let mut s = Summary::default();
        check(&mut s, &acked, stock, 100, 2);
        s
    }

    #[test]
    fn acknowledgements_are_checked_against_the_stock_and_the_server() {
        let counts = StockState { total: 100, available: 40, held: 50, sold: 10 };
        let fine = checked(Acked { quantity: 60, holds: 60, orders: 10, over_limit_users: 0 }, counts);
        assert_eq!(fine.oversold, 0, "{:?}", fine.notes);
        assert_eq!(fine.notes, ["acknowledged 60 holds and 10 orders"]);
        let extra: Vec<String> = fine.extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(extra, ["stock=100", "held=50", "sold=10", "available=40", "acked_qty=60"]);
        // The server holds and sells more than it has.
        let server = checked(Acked::default(), StockState { total: 100, available: 0, held: 95, sold: 10 });
        assert_eq!(server.oversold, 5);
        assert!(server.notes.iter().any(|n| n.contains("do not add up")), "{:?}", server.notes);
        // More acknowledged than exists, and users over the limit.
        let acked = checked(Acked { quantity: 103, holds: 103, orders: 0, over_limit_users: 4 }, counts);
        assert_eq!(acked.oversold, 3 + 4);
        assert!(acked.notes.iter().any(|n| n.contains("more than the limit of 2")), "{:?}", acked.notes);
        assert!(acked.notes.iter().any(|n| n.contains("(expired or lost holds?)")), "{:?}", acked.notes);
    }
}
