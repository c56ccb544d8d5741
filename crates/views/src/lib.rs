//! Read models: SQL tables folded from the sales' durable events.
//!
//! This crate owns the projections that requests read instead of asking sale
//! tasks: holds and orders per person and per sale, seats per person, sale
//! statistics, drop results and the click-time histogram. [`fold`] is the pure
//! step from events to row changes; [`tables`] keeps them in SQLite with each
//! sale's cursor in the same transaction; [`projector`] follows the engine's
//! published events on a thread of its own and fills any gap from the log;
//! [`reproject`] rebuilds everything from the log alone.

pub mod fold;
pub mod projector;
pub mod tables;

use std::path::{Path, PathBuf};

use stampede_engine::persons::PersonKey;
use stampede_engine::replay;
use stampede_log::{CommandLog, SaleId};

pub use crate::fold::{ClickRow, ConflictRow, HoldKind, HoldRow, Model, SaleStats, SeatRow, TicketRow, TicketState};
pub use crate::projector::Projector;
pub use crate::tables::{Views, ViewsError};

/// Where the projection tables live in a data directory.
pub fn views_path(data_dir: &Path) -> PathBuf {
    data_dir.join("views.sqlite")
}

/// Entries applied per transaction while catching up from the log: bounds the
/// memory held and the time readers see no progress.
pub const CATCH_UP_CHUNK: usize = 4096;

/// Brings one sale's tables up to the end of its log, from the sale's cursor.
/// `persons` is the server's key, which sales whose people are sealed need.
pub fn catch_up(
    views: &mut Views,
    log: &mut dyn CommandLog,
    sale: SaleId,
    persons: Option<&PersonKey>,
) -> Result<u64, ViewsError> {
    let from = views.next_seq(sale)?;
    let mut chunk = Vec::with_capacity(CATCH_UP_CHUNK);
    let mut failed: Option<ViewsError> = None;
    let result = replay::events_since_with(log, sale, from, persons, &mut |entry| {
        chunk.push(entry);
        if chunk.len() >= CATCH_UP_CHUNK {
            if let Err(e) = views.apply(sale, &chunk) {
                let message = e.to_string();
                failed = Some(e);
                return Err(message);
            }
            chunk.clear();
        }
        Ok(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    result?;
    views.apply(sale, &chunk)
}

/// Brings every sale of the log up to date; returns the entries the tables now cover.
pub fn catch_up_all(
    views: &mut Views,
    log: &mut dyn CommandLog,
    persons: Option<&PersonKey>,
) -> Result<u64, ViewsError> {
    let mut entries = 0;
    // The ledger's stream is money, not a sale: nothing here projects it.
    for sale in log.sales()?.into_iter().filter(|s| !stampede_engine::ledger::is_ledger_stream(*s)) {
        entries += catch_up(views, log, sale, persons)?;
    }
    Ok(entries)
}

/// Rebuilds the projection tables at `path` from the log alone: into a fresh
/// file beside it, which then replaces the old one. Run it while no server
/// uses the data directory. Returns the entries folded.
pub fn reproject(log: &mut dyn CommandLog, path: &Path, persons: Option<&PersonKey>) -> Result<u64, ViewsError> {
    let fresh = path.with_extension("sqlite.rebuild");
    remove_database(&fresh)?;
    let entries = {
        let mut views = Views::open(&fresh)?;
        let n = catch_up_all(&mut views, log, persons)?;
        views.checkpoint()?;
        n
    };
    remove_database(path)?;
    std::fs::rename(&fresh, path).map_err(|e| ViewsError::Io(e.to_string()))?;
    Ok(entries)
}

fn remove_database(path: &Path) -> Result<(), ViewsError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(PathBuf::from(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ViewsError::Io(e.to_string())),
        }
    }
    Ok(())
}
