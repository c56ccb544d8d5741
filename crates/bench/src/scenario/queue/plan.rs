//! What the queue scenario will do: the sale behind its waiting room, the
//! stock that makes it sell out part way, and how long admission takes.

use std::time::Duration;

use crate::BenchArgs;

/// Lifetime of a pass (the bench uses it at once).
const PASS_SECONDS: u64 = 120;
/// Least time allowed for a phase: the run ends as soon as everyone is done,
/// so the limit only matters when something is stuck.
pub(super) const PHASE_MIN: Duration = Duration::from_secs(60);

/// Units in the sale: `--queue-stock`, or half the users.
pub(super) fn stock(args: &BenchArgs) -> u64 {
    args.queue_stock.unwrap_or_else(|| (u64::from(args.users) / 2).max(1))
}

/// `POST /api/sales`: a stock sale of `stock` units, one per person, behind
/// a `chunk` waiting room, not open yet.
pub(super) fn sale_spec(args: &BenchArgs, stock: u64) -> serde_json::Value {
    serde_json::json!({
        "kind": "stock",
        "title": "stampede bench (queue)",
        "description": "",
        "stock": stock,
        // Free: a priced hold is confirmed only by paying for it.
        "price": 0,
        "currency": "KRW",
        "per_person_limit": 1,
        "order_quantity_max": 1,
        "hold_seconds": 3600,
        "opens_at": null,
        "closes_at": null,
        "waiting_room": {
            "policy": "chunk",
            "chunk_size": args.chunk_size,
            "chunk_seconds": args.chunk_seconds,
            "pass_seconds": PASS_SECONDS,
            "pow_bits": args.pow_bits,
            "places_per_address": 1_000_000,
        },
    })
}

/// The nominal time to admit every user: one chunk per `--chunk-seconds`.
pub(super) fn admission(args: &BenchArgs, users: usize) -> Duration {
    let chunks = users.div_ceil(args.chunk_size.max(1) as usize) as f64;
    Duration::from_secs_f64(chunks * args.chunk_seconds)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::Scenario;

    #[test]
    fn the_sale_sells_out_part_way_and_admission_takes_its_chunks() {
        let args = BenchArgs { scenario: Scenario::Queue, users: 2500, chunk_size: 1000, ..BenchArgs::default() };
        assert_eq!(stock(&args), 1250);
        assert_eq!(stock(&BenchArgs { users: 1, ..args.clone() }), 1);
        assert_eq!(stock(&BenchArgs { queue_stock: Some(7), ..args.clone() }), 7);
        // Three chunks of 0.1 s for 2,500 people.
        assert!((admission(&args, 2500).as_secs_f64() - 0.3).abs() < 1e-9);
        let spec = sale_spec(&args, 1250);
        assert_eq!(spec["stock"], 1250);
        assert_eq!(spec["per_person_limit"], 1);
        assert_eq!(spec["waiting_room"]["chunk_size"], 1000);
        assert_eq!(spec["waiting_room"]["pass_seconds"], PASS_SECONDS);
    }
}
