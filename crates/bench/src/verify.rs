//! `--verify-acked`: checks that every outcome recorded in an acknowledgement
//! file is on the server.
//!
//! - `hold`: a hold row with that id, user and quantity exists (any status).
//! - `order`: the same, and its status is `confirmed` or `refunded`.
//! - `click`: the leaderboard entry of that rank has the same `clicked_at_us`.
//!
//! `missing` counts records not found or found different; `oversold` sums
//! `held + sold - total` (if positive) over the stock sales of the file, and
//! the winners beyond the places of its drop sales.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::acked::{Ack, AckRecord, read_acked};
use crate::api::Api;
use crate::error::BenchError;
use crate::http::Target;
use crate::{BenchArgs, VerifyReport};

const NOTE_LIMIT: usize = 20;

/// What the file says about one hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExpectedHold {
    pub user: u64,
    pub quantity: u64,
    /// `hold` records for it.
    pub holds: u64,
    /// `order` records for it.
    pub orders: u64,
}

/// The records of one sale, indexed for checking.
#[derive(Debug, Default)]
pub(crate) struct SaleAcks {
    pub holds: HashMap<u64, ExpectedHold>,
    /// rank -> acknowledged `clicked_at_us` (one per record).
    pub clicks: HashMap<u64, Vec<i64>>,
    pub max_rank: u64,
}

/// The records grouped by sale, and records that contradict an earlier one
/// for the same hold (different user or quantity), counted as missing.
pub(crate) fn group(records: &[AckRecord]) -> (BTreeMap<u64, SaleAcks>, u64) {
    let mut sales: BTreeMap<u64, SaleAcks> = BTreeMap::new();
    let mut contradictions = 0;
    for r in records {
        let sale = sales.entry(r.sale).or_default();
        match r.what {
            Ack::Hold { hold, quantity } | Ack::Order { hold, quantity } => {
                let is_order = matches!(r.what, Ack::Order { .. });
                let e = sale.holds.entry(hold).or_insert(ExpectedHold { user: r.user, quantity, holds: 0, orders: 0 });
                if e.user != r.user || e.quantity != quantity {
                    contradictions += 1;
                } else if is_order {
                    e.orders += 1;
                } else {
                    e.holds += 1;
                }
            }
            Ack::Click { rank, clicked_at_us } => {
                sale.clicks.entry(rank).or_default().push(clicked_at_us);
                sale.max_rank = sale.max_rank.max(rank);
            }
        }
    }
    (sales, contradictions)
}

/// How a hold row compares with what was acknowledged: the number of
/// records it fails.
pub(crate) fn hold_mismatches(expected: &ExpectedHold, user_id: u64, quantity: u64, status: &str) -> u64 {
    if user_id != expected.user || quantity != expected.quantity {
        return expected.holds + expected.orders;
    }
    if expected.orders > 0 && !matches!(status, "confirmed" | "refunded") {
        return expected.orders;
    }
    0
}

pub(crate) async fn verify_acked(args: &BenchArgs, file: &Path) -> Result<VerifyReport, BenchError> {
    let records = read_acked(file)?;
    let (sales, contradictions) = group(&records);
    let mut report = VerifyReport { checked: records.len() as u64, missing: contradictions, ..VerifyReport::default() };
    if contradictions > 0 {
        report.notes.push(format!("{contradictions} records contradict an earlier record of the same hold"));
    }
    let needs_admin = sales.values().any(|s| !s.holds.is_empty());
    if needs_admin && args.admin_token.as_deref().is_none_or(str::is_empty) {
        return Err(BenchError::MissingAdminToken("hold verification"));
    }
    let target = Arc::new(Target::resolve(&args.target).await?);
    let mut api = Api::new(target, args.admin_token.as_deref())?;
    let note = |report: &mut VerifyReport, text: String| {
        if report.notes.len() < NOTE_LIMIT {
            report.notes.push(text);
        }
    };

    for (&sale_id, sale) in &sales {
        let state = api.sale(sale_id).await?;
        if let Some(stock) = state.stock {
            let over = (stock.held + stock.sold).saturating_sub(stock.total);
            if over > 0 {
                report.oversold += over;
                note(
                    &mut report,
                    format!("sale {sale_id}: held {} + sold {} > total {}", stock.held, stock.sold, stock.total),
                );
            }
        }
        if let Some(drop) = state.drop {
            let over = drop.won.saturating_sub(drop.winners);
            if over > 0 {
                report.oversold += over;
                note(&mut report, format!("sale {sale_id}: {} winners for {} places", drop.won, drop.winners));
            }
        }

        if !sale.holds.is_empty() {
            let mut found: HashSet<u64> = HashSet::with_capacity(sale.holds.len());
            let mut missing_here = 0u64;
            let mut after = None;
            loop {
                let page = api.holds(sale_id, after).await?;
                for row in &page.holds {
                    let Some(expected) = sale.holds.get(&row.id) else {
                        continue;
                    };
                    if !found.insert(row.id) {
                        continue;
                    }
                    let bad = hold_mismatches(expected, row.user_id, row.quantity, &row.status);
                    if bad > 0 {
                        missing_here += bad;
                        note(
                            &mut report,
                            format!(
                                "sale {sale_id} hold {}: acknowledged user {} quantity {}{}, \
                                 server has user {} quantity {} status {}",
                                row.id,
                                expected.user,
                                expected.quantity,
                                if expected.orders > 0 { " confirmed" } else { "" },
                                row.user_id,
                                row.quantity,
                                row.status
                            ),
                        );
                    }
                }
                match page.next_after {
                    Some(next) if found.len() < sale.holds.len() && !page.holds.is_empty() => {
                        if after.is_some_and(|a| next <= a) {
                            return Err(BenchError::Protocol {
                                method: "GET".into(),
                                path: format!("/api/sales/{sale_id}/holds"),
                                reason: format!("next_after went back from {after:?} to {next}"),
                            });
                        }
                        after = Some(next);
                    }
                    _ => break,
                }
            }
            let mut unseen: Vec<(u64, u64)> = sale
                .holds
                .iter()
                .filter(|(id, _)| !found.contains(id))
                .map(|(&id, e)| (id, e.holds + e.orders))
                .collect();
            unseen.sort_unstable();
            for &(id, records) in &unseen {
                missing_here += records;
                note(&mut report, format!("sale {sale_id} hold {id}: acknowledged, not on the server"));
            }
            report.missing += missing_here;
            if missing_here > 0 {
                report.notes.push(format!("sale {sale_id}: {missing_here} hold/order records missing or different"));
            }
        }

        if !sale.clicks.is_empty() {
            let (_, entries) = api.leaderboard_all(sale_id, Some(sale.max_rank)).await?;
            let listed: HashMap<u64, i64> = entries
                .iter()
                .filter(|e| sale.clicks.contains_key(&e.rank))
                .map(|e| (e.rank, e.clicked_at_us))
                .collect();
            let mut missing_here = 0u64;
            for (&rank, times) in &sale.clicks {
                for &at in times {
                    if listed.get(&rank) != Some(&at) {
                        missing_here += 1;
                        note(
                            &mut report,
                            format!(
                                "sale {sale_id} rank {rank}: acknowledged clicked_at_us {at}, \
                                 leaderboard has {:?}",
                                listed.get(&rank)
                            ),
                        );
                    }
                }
            }
            report.missing += missing_here;
        }
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn rec(sale: u64, user: u64, what: Ack) -> AckRecord {
        AckRecord { sale, user, what }
    }

    #[test]
    fn grouping_and_matching() {
        let records = [
            rec(1, 7, Ack::Hold { hold: 10, quantity: 2 }),
            rec(1, 7, Ack::Order { hold: 10, quantity: 2 }),
            rec(1, 8, Ack::Hold { hold: 11, quantity: 1 }),
            rec(1, 9, Ack::Hold { hold: 11, quantity: 1 }), // contradicts
            rec(2, 7, Ack::Click { rank: 3, clicked_at_us: 5 }),
            rec(2, 8, Ack::Click { rank: 9, clicked_at_us: 6 }),
        ];
        let (sales, contradictions) = group(&records);
        assert_eq!(contradictions, 1);
        let one = &sales[&1];
        assert_eq!(one.holds[&10], ExpectedHold { user: 7, quantity: 2, holds: 1, orders: 1 });
        assert_eq!(one.holds[&11].holds, 1);
        assert_eq!(sales[&2].max_rank, 9);
        assert_eq!(sales[&2].clicks[&3], vec![5]);

        let confirmed = one.holds[&10];
        assert_eq!(hold_mismatches(&confirmed, 7, 2, "confirmed"), 0);
        assert_eq!(hold_mismatches(&confirmed, 7, 2, "refunded"), 0);
        assert_eq!(hold_mismatches(&confirmed, 7, 2, "held"), 1);
        assert_eq!(hold_mismatches(&confirmed, 8, 2, "confirmed"), 2);
        assert_eq!(hold_mismatches(&confirmed, 7, 1, "confirmed"), 2);
        let held = one.holds[&11];
        assert_eq!(hold_mismatches(&held, 8, 1, "expired"), 0);
    }
}
