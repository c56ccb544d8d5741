//! Checkpointing the log's WAL away from the committing connection.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL past
//! `wal_autocheckpoint` pages, so every so often one group commit also copied
//! thousands of pages into the database file and fsynced it: every request of
//! that batch (and every batch queued behind it) waited. The writer's connection
//! therefore has automatic checkpoints off, and this module's thread, with its
//! own connection, runs PASSIVE checkpoints, which never block the writer.
//!
//! A PASSIVE checkpoint alone does not bound the WAL under sustained load: SQLite
//! restarts the WAL from its beginning only when a write transaction starts while
//! every frame is already copied back, and with commits arriving back to back
//! some frame always is not. So when the WAL has grown past [`WAL_RESET_FRAMES`]
//! and a PASSIVE checkpoint copied all it saw, the thread asks the writer (via
//! [`Checkpointer::take_reset_wanted`]) to checkpoint the few frames committed
//! since, between two batches; the writer's next transaction then restarts the
//! WAL. That costs one batch a checkpoint of a few milliseconds' worth of frames
//! instead of a large one.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// WAL frames (pages, 4 KiB each by default) past which the writer is asked to let the WAL restart.
pub const WAL_RESET_FRAMES: i64 = 4096;
/// The WAL file is truncated back to this size when it restarts, should a long
/// reader (a backup, an audit) have let it grow beyond.
pub const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;
/// Least time between two background checkpoints: each fsyncs the database file,
/// and a disk busy with those is slower to fsync the WAL for the writer.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(50);
/// How long the thread sleeps when nothing was committed.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// `PRAGMA wal_checkpoint(mode)`: (busy, frames in the WAL, frames copied back).
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(bool, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get::<_, i64>(0)? != 0, row.get(1)?, row.get(2)?))
    })
}

#[derive(Default)]
struct Wake {
    commits: u64,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    wake: Mutex<Wake>,
    cond: Condvar,
    reset_wanted: AtomicBool,
    /// Frames in the WAL at the last background checkpoint (for tests and logs).
    wal_frames: AtomicU64,
    checkpoints: AtomicU64,
}

/// The background checkpoint thread of one log file; stops when dropped.
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn spawn(path: &Path) -> std::io::Result<Self> {
        let conn = Connection::open(path).map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared::default());
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("stampede-log-checkpoint".into())
            .spawn(move || run(&conn, &for_thread))?;
        Ok(Self { shared, thread: Some(thread) })
    }

    /// Tells the thread a transaction was committed; never blocks on a checkpoint.
    pub(crate) fn committed(&self) {
        self.shared.wake.lock().unwrap_or_else(PoisonError::into_inner).commits += 1;
        self.shared.cond.notify_one();
    }

    /// Whether the writer should checkpoint the WAL's last frames itself now (and clears the wish).
    pub(crate) fn take_reset_wanted(&self) -> bool {
        self.shared.reset_wanted.swap(false, Ordering::AcqRel)
    }

    pub(crate) fn want_reset_again(&self) {
        self.shared.reset_wanted.store(true, Ordering::Release);
    }

    pub(crate) fn wal_frames(&self) -> u64 {
        self.shared.wal_frames.load(Ordering::Relaxed)
    }

    pub(crate) fn checkpoints(&self) -> u64 {
        self.shared.checkpoints.load(Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.wake.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        self.shared.cond.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut wake = shared.wake.lock().unwrap_or_else(PoisonError::into_inner);
            while wake.commits == 0 && !wake.stop {
                wake = shared.cond.wait_timeout(wake, IDLE_WAIT).unwrap_or_else(PoisonError::into_inner).0;
            }
            if wake.stop {
                return;
            }
            wake.commits = 0;
        }
        match checkpoint(conn, "PASSIVE") {
            Ok((_, frames, copied)) => {
                shared.wal_frames.store(u64::try_from(frames).unwrap_or(0), Ordering::Relaxed);
                shared.checkpoints.fetch_add(1, Ordering::Relaxed);
                // `copied < frames` means a reader still needs old frames: the
                // WAL cannot restart anyway until it is done.
                if frames >= WAL_RESET_FRAMES && copied == frames {
                    shared.reset_wanted.store(true, Ordering::Release);
                }
            }
            // A failed checkpoint only delays the next one.
            Err(e) => tracing::warn!(error = %e, "background WAL checkpoint failed"),
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}
