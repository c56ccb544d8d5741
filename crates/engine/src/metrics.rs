//! The engine's Prometheus series, recorded through the `metrics` facade
//! into whatever recorder the binary installed (none: every call does
//! nothing). No series has a per-sale label: sales are unbounded in number.
//!
//! Handles are taken once (by the writer thread, by each sale task) and
//! kept, so recording is a lock-free sample, not a lookup by name.

use metrics::{Histogram, Unit};

/// Entries committed per group commit.
pub const BATCH_ENTRIES: &str = "stampede_log_batch_entries";
/// Time to append one batch durably (the transaction and its fsync).
pub const COMMIT_SECONDS: &str = "stampede_log_commit_seconds";
/// Messages waiting in a sale's mailbox when its task takes a batch (the
/// message taken included): 1 when idle, growing when the sale falls behind.
pub const MAILBOX_DEPTH: &str = "stampede_sale_mailbox_depth";
/// How long the start-up replay took, and how many entries it applied.
pub const REPLAY_SECONDS: &str = "stampede_replay_duration_seconds";
pub const REPLAY_ENTRIES: &str = "stampede_replay_entries";

/// Gives each series its help text and unit (call once, after the recorder
/// is installed).
pub fn describe() {
    metrics::describe_histogram!(BATCH_ENTRIES, Unit::Count, "Log entries committed per group commit");
    metrics::describe_histogram!(
        COMMIT_SECONDS,
        Unit::Seconds,
        "Time to append one group-commit batch durably (transaction and fsync)"
    );
    metrics::describe_histogram!(
        MAILBOX_DEPTH,
        Unit::Count,
        "Messages in a sale's mailbox when its task takes a batch, all sales together"
    );
    metrics::describe_gauge!(REPLAY_SECONDS, Unit::Seconds, "Time the start-up replay of the log took");
    metrics::describe_gauge!(REPLAY_ENTRIES, Unit::Count, "Log entries applied by the start-up replay");
}

/// The writer thread's series.
pub(crate) struct WriterMetrics {
    pub batch_entries: Histogram,
    pub commit_seconds: Histogram,
}

impl WriterMetrics {
    pub fn new() -> Self {
        WriterMetrics {
            batch_entries: metrics::histogram!(BATCH_ENTRIES),
            commit_seconds: metrics::histogram!(COMMIT_SECONDS),
        }
    }
}

pub(crate) fn mailbox_depth() -> Histogram {
    metrics::histogram!(MAILBOX_DEPTH)
}

/// Records what the start-up replay did.
pub(crate) fn replayed(seconds: f64, entries: u64) {
    metrics::gauge!(REPLAY_SECONDS).set(seconds);
    metrics::gauge!(REPLAY_ENTRIES).set(entries as f64);
}
