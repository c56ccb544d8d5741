//! The drop scenario: every user clicks `POST /api/sales/{id}/clicks` exactly
//! once, the connections splitting the users; the run ends when every user
//! has an answer or at the duration. A click that got no answer (or `503`) is
//! retried ([`crate::retry`]) with the same idempotency key, which returns the
//! first outcome.
//!
//! Afterwards the acknowledged ranks and the whole leaderboard go through
//! [`check_ranks`](crate::check::check_ranks).

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode, Uri};
use serde::Deserialize;
use tokio::time::Instant;

use super::{GRACE, ack_sender, ack_writer, drive, provision, summary, user_indices};
use crate::acked::{Ack, AckRecord, AckSender};
use crate::api::VUser;
use crate::check::{Board, Click, check_ranks};
use crate::error::BenchError;
use crate::http::{self, Link, Target};
use crate::retry::{self, Answer, AnswerBy, Judged, Retry, Sent, Via};
use crate::stats::{Class, ConnStats, Live};
use crate::{BenchArgs, Scenario, Summary};

struct Plan {
    target: Arc<Target>,
    live: Arc<Live>,
    users: Vec<VUser>,
    connections: usize,
    sale: u64,
    clicks_uri: Uri,
    acks: Option<AckSender>,
}

#[derive(Debug, Default)]
struct Clicked {
    acks: Vec<Click>,
    /// Clicks sent whose outcome is unknown (no answer and no later answer).
    unresolved: u64,
    /// Users whose click was refused or never sent.
    failed: u64,
}

#[derive(Deserialize)]
struct ClickAnswer {
    rank: u64,
    won: bool,
    clicked_at_us: i64,
}

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let spec = serde_json::json!({
        "kind": "drop",
        "title": "stampede bench (drop)",
        "description": "",
        "winners": args.winners,
        "opens_at": null,
        "closes_at": null,
    });
    let writer = ack_writer(args)?;
    let (mut api, users, sale) = provision(args, target.clone(), spec).await?;
    let connections = args.connections.min(users.len());
    let live = Arc::new(Live::default());
    let plan = Arc::new(Plan {
        clicks_uri: target.uri(&format!("/api/sales/{}/clicks", sale.id))?,
        target,
        live: live.clone(),
        users,
        connections,
        sale: sale.id,
        acks: ack_sender(&writer),
    });
    let driven = drive(args, connections, live, |conn, deadline| conn_task(plan.clone(), conn, deadline)).await;
    drop(plan);
    if let Some(writer) = writer {
        writer.finish()?;
    }
    let driven = driven?;
    let server_cpu = driven.server_cpu();

    let mut clicked = Clicked::default();
    for c in driven.per_conn {
        clicked.acks.extend(c.acks);
        clicked.unresolved += c.unresolved;
        clicked.failed += c.failed;
    }
    let winners = u64::from(args.winners);
    let state = api.sale(sale.id).await?;
    let (total, entries) = api.leaderboard_all(sale.id, None).await?;
    let board = Board {
        total,
        entries: entries.iter().map(|e| Click { rank: e.rank, won: e.won, clicked_at_us: e.clicked_at_us }).collect(),
    };
    let check = check_ranks(&clicked.acks, winners, clicked.unresolved, Some(&board));

    let mut s = summary(Scenario::Drop, driven.totals, driven.elapsed_s, connections);
    s.server_cpu = server_cpu;
    s.sale_id = Some(sale.id);
    s.misranked = check.misranked;
    let listed_won = board.entries.iter().filter(|e| e.won).count() as u64;
    let server_won = state.drop.map_or(0, |d| d.won);
    s.oversold = check.won.max(listed_won).max(server_won).saturating_sub(winners);
    s.notes = check.notes;
    if s.oversold > 0 {
        s.notes.push(format!(
            "winners: {} acknowledged, {listed_won} listed, {server_won} counted by the server, \
             for {winners} places",
            check.won
        ));
    }
    if let Some(d) = state.drop
        && d.clicks != total
    {
        s.notes.push(format!("the sale counts {} clicks, the leaderboard {total}", d.clicks));
    }
    let n = clicked.acks.len() as u64;
    if n < u64::from(args.users) {
        s.notes.push(format!(
            "{} of {} users have no acknowledged click ({} unanswered, {} refused or not sent)",
            u64::from(args.users) - n,
            args.users,
            clicked.unresolved,
            clicked.failed
        ));
    }
    s.extra = vec![
        ("winners".into(), check.won.to_string()),
        ("misranked".into(), check.misranked.to_string()),
        ("clicks".into(), n.to_string()),
        ("sale".into(), sale.id.to_string()),
    ];
    Ok(s)
}

async fn conn_task(plan: Arc<Plan>, conn: usize, deadline: Instant) -> Result<(ConnStats, Clicked), BenchError> {
    let mut stats = ConnStats::new()?;
    let mut out = Clicked::default();
    let live = &*plan.live;
    let mut link = Link::new(plan.target.clone());
    let limit = deadline + GRACE;

    for index in user_indices(conn, plan.connections, plan.users.len()) {
        let user = &plan.users[index];
        // One key per user: every retry is the same click.
        let key = HeaderValue::from(index as u64 + 1);
        let make = || {
            http::request(
                &plan.target,
                Method::POST,
                plan.clicks_uri.clone(),
                Some(&user.auth),
                Some(key.clone()),
                None,
            )
        };
        let judge = |status: StatusCode, body: &Bytes| match serde_json::from_slice::<ClickAnswer>(body) {
            Ok(click) if status == StatusCode::OK => Judged::new(Class::Ok, Some(click)),
            Err(_) if status == StatusCode::OK => Judged::unusable("(unparsable 200)", None),
            _ => Judged::new(Class::Error, None),
        };
        let mut via = Via::Link { link: &mut link, stats: &mut stats, live };
        let retry = Retry::until(deadline).answer_by(AnswerBy::At(limit));
        let maybe_applied = match retry::send(&mut via, retry, make, judge).await? {
            Sent::Answer(Answer { value: Some(click), .. }) => {
                out.acks.push(Click { rank: click.rank, won: click.won, clicked_at_us: click.clicked_at_us });
                if let Some(acks) = &plan.acks {
                    acks.send(AckRecord {
                        sale: plan.sale,
                        user: user.id,
                        what: Ack::Click { rank: click.rank, clicked_at_us: click.clicked_at_us },
                    });
                }
                None
            }
            // An unreadable 200 or a server error may have ranked the click.
            Sent::Answer(Answer { status, maybe_applied, .. }) => {
                Some(maybe_applied || status == StatusCode::OK || status.is_server_error())
            }
            Sent::NoAnswer { maybe_applied, .. } => Some(maybe_applied),
        };
        match maybe_applied {
            Some(true) => out.unresolved += 1,
            Some(false) => out.failed += 1,
            None => {}
        }
        if Instant::now() >= deadline {
            // Users of this connection that never got to click.
            out.failed += user_indices(conn, plan.connections, plan.users.len()).filter(|&i| i > index).count() as u64;
            break;
        }
    }
    Ok((stats, out))
}
