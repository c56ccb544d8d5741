//! The `CommandLog` conformance suite (`stampede_log::conformance`) against
//! every backend of this crate: SQLite, memory, and the fault-injecting
//! wrapper around each (which must pass everything when it injects nothing).
//! The fault checks themselves wrap each backend in a `FaultyLog`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use stampede_log::conformance::{self, Backend, ModelBatch, Unfaulted};
use stampede_log::{MemoryDisk, SqliteLog};

/// A SQLite log in a temporary directory of its own.
struct Sqlite(tempfile::TempDir);

impl Sqlite {
    fn fresh() -> Self {
        Sqlite(tempfile::tempdir().unwrap())
    }
}

impl Backend for Sqlite {
    type Log = SqliteLog;
    fn open(&mut self) -> SqliteLog {
        SqliteLog::open(&self.0.path().join("log.sqlite")).unwrap()
    }
}

mod sqlite {
    use super::*;
    stampede_log::conformance_tests!(Sqlite::fresh());
}

mod memory {
    use super::*;
    stampede_log::conformance_tests!(MemoryDisk::new());
}

mod faulty_over_sqlite {
    use super::*;
    stampede_log::conformance_tests!(Unfaulted(Sqlite::fresh()));
}

mod faulty_over_memory {
    use super::*;
    stampede_log::conformance_tests!(Unfaulted(MemoryDisk::new()));
}

fn batch() -> impl Strategy<Value = ModelBatch> {
    (
        prop::collection::vec((0..4u64, any::<i64>(), prop::collection::vec(any::<u8>(), 0..24)), 0..12),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(commands, snapshot_last, reopen_after)| ModelBatch { commands, snapshot_last, reopen_after })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sqlite_replay_matches_model(batches in prop::collection::vec(batch(), 1..10), cut in any::<usize>()) {
        conformance::replay_matches_model(&mut Sqlite::fresh(), &batches, cut);
    }

    #[test]
    fn memory_replay_matches_model(batches in prop::collection::vec(batch(), 1..10), cut in any::<usize>()) {
        conformance::replay_matches_model(&mut MemoryDisk::new(), &batches, cut);
    }

    #[test]
    fn faulty_replay_matches_model(batches in prop::collection::vec(batch(), 1..10), cut in any::<usize>()) {
        conformance::replay_matches_model(&mut Unfaulted(MemoryDisk::new()), &batches, cut);
    }
}
