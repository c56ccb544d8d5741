//! One sale's decisions as plain synchronous calls: stamp the time, apply an
//! input with the core, and chain its record into the sale's log.
//!
//! The sale task ([`crate::actor`]) calls these for every command and tick,
//! and so does the deterministic simulator (`stampede-sim`), which drives them
//! on a virtual clock without tokio: both produce the same entries, so the
//! simulator exercises the real record encoding and recovery, not a copy.
//! Making entries durable (one append per batch) and releasing answers only
//! afterwards is the caller's part ([`crate::writer`] in the server).

use stampede_core::{Event, Input, Outcome, Sale, SaleConfig};
use stampede_log::{ChainTip, Entry, SaleId};

use crate::persons::SaleSeal;
use crate::record::{Record, new_sale_version};

/// What applying one input decided.
pub struct Decided {
    pub outcome: Outcome,
    pub events: Vec<Event>,
    /// The log entry to append, chained onto the tip; `None` for a tick that
    /// changed nothing (such ticks are not logged).
    pub entry: Option<Entry>,
}

/// The time to stamp on a sale's next input: the clock's, but never earlier
/// than the previous input's, whatever the clock says.
pub fn stamp(last_at_us: &mut i64, clock_now_us: i64) -> i64 {
    *last_at_us = clock_now_us.max(*last_at_us);
    *last_at_us
}

/// A new sale and its first entry (`create`), at `at_us`.
pub fn create(id: SaleId, config: SaleConfig, at_us: i64) -> (Sale, ChainTip, Entry) {
    create_sealed(id, config, at_us, None)
}

/// [`create`], with people sealed as this sale's pseudonyms when `seal` is
/// given (a sale whose log can be published, [`crate::persons`]). New sales
/// write binary records ([`crate::record::binary`]).
pub fn create_sealed(id: SaleId, config: SaleConfig, at_us: i64, seal: Option<&SaleSeal>) -> (Sale, ChainTip, Entry) {
    let mut tip = ChainTip::genesis(id);
    let entry = tip.append(at_us, Record::create_sealed(&config, seal).encode());
    (Sale::with_id(config, id), tip, entry)
}

/// Applies `input` to a sale made by [`create`] and, unless it is a tick
/// that changed nothing, chains its record (with the outcome, for audits)
/// onto `tip`.
pub fn decide(sale: &mut Sale, tip: &mut ChainTip, input: &Input) -> Decided {
    decide_as(sale, tip, input, None, new_sale_version(false))
}

/// [`decide`] for a sale whose records have `version` (its `create`
/// record's: a sale keeps the encoding it was created with), sealed with
/// `seal` when the version says so: its record names people by pseudonym.
/// A command's idempotency key must then already be the sealed one
/// ([`SaleSeal::key`]), so that what was applied is what is logged.
pub fn decide_as(sale: &mut Sale, tip: &mut ChainTip, input: &Input, seal: Option<&SaleSeal>, version: u16) -> Decided {
    let applied = sale.apply(input);
    let logged = applied.changed || matches!(input, Input::Command(_));
    let entry = logged
        .then(|| tip.append(input.at_us(), Record::from_input_as(input, &applied.outcome, seal, version).encode()));
    Decided { outcome: applied.outcome, events: applied.events, entry }
}
