//! Group commit: one OS thread owns the command log and makes batches durable.
//!
//! Sale tasks hand over jobs (entries, snapshots, and what to do once they are
//! on disk). The writer takes everything queued, up to [`BATCH_ENTRIES_MAX`],
//! appends it in one transaction (one fsync), and only then runs the jobs'
//! continuations, which answer the waiting requests. Jobs are committed in the
//! order they were queued, so when a command is durable, every command queued
//! before it is too; that is why a sale may apply commands in memory before
//! they are durable without ever acknowledging a state a crash could undo.
//!
//! A failed append poisons the writer: memory is now ahead of the disk, so
//! every later job is refused and the server reports itself unready.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use stampede_log::{CommandLog, Entry, Snapshot};
use tokio::sync::mpsc;

/// Most entries in one transaction; bounds a batch's memory and latency.
pub const BATCH_ENTRIES_MAX: usize = 8192;
/// Most jobs waiting for the writer; senders wait (backpressure) beyond it.
pub const WRITER_QUEUE_LEN_MAX: usize = 4096;

/// Called once the job is durable (`true`) or has failed (`false`).
pub type OnDurable = Box<dyn FnOnce(bool) + Send>;

pub struct Job {
    pub entries: Vec<Entry>,
    pub snapshot: Option<Snapshot>,
    pub on_durable: Vec<OnDurable>,
}

impl Job {
    pub fn empty() -> Self {
        Job { entries: Vec::new(), snapshot: None, on_durable: Vec::new() }
    }
}

/// The sending side, cloned into every sale task.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
    healthy: Arc<AtomicBool>,
}

impl WriterHandle {
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Queues a job, waiting while the writer's queue is full. A job that cannot
    /// be queued (writer gone) is failed at once.
    pub async fn submit(&self, job: Job) {
        if let Err(mpsc::error::SendError(job)) = self.tx.send(job).await {
            fail(job);
        }
    }
}

struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn fail(job: Job) {
    for f in job.on_durable {
        f(false);
    }
}

/// Starts the writer thread. It stops when every [`WriterHandle`] is dropped,
/// after committing what was queued.
pub fn spawn(mut log: Box<dyn CommandLog>) -> std::io::Result<(WriterHandle, std::thread::JoinHandle<()>)> {
    let (tx, mut rx) = mpsc::channel::<Job>(WRITER_QUEUE_LEN_MAX);
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    let thread = std::thread::Builder::new().name("stampede-log-writer".into()).spawn(move || {
        // If this thread ends for any reason (a panic included) the engine must
        // stop reporting itself healthy.
        let _unhealthy_on_exit = ClearOnDrop(flag.clone());
        let metrics = crate::metrics::WriterMetrics::new();
        let mut entries: Vec<Entry> = Vec::with_capacity(BATCH_ENTRIES_MAX);
        let mut snapshots: Vec<Snapshot> = Vec::new();
        let mut waiting: Vec<OnDurable> = Vec::with_capacity(BATCH_ENTRIES_MAX);
        while let Some(first) = rx.blocking_recv() {
            let mut next = Some(first);
            while let Some(job) = next.take() {
                entries.extend(job.entries);
                snapshots.extend(job.snapshot);
                waiting.extend(job.on_durable);
                if entries.len() < BATCH_ENTRIES_MAX && waiting.len() < BATCH_ENTRIES_MAX {
                    next = rx.try_recv().ok();
                }
            }
            let ok = if !flag.load(Ordering::Acquire) {
                false
            } else if entries.is_empty() && snapshots.is_empty() {
                true
            } else {
                let started = std::time::Instant::now();
                let appended = log.append(&entries, &snapshots);
                metrics.commit_seconds.record(started.elapsed().as_secs_f64());
                metrics.batch_entries.record(entries.len() as f64);
                match appended {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, "command log append failed; refusing all further work");
                        flag.store(false, Ordering::Release);
                        false
                    }
                }
            };
            entries.clear();
            snapshots.clear();
            for f in waiting.drain(..) {
                f(ok);
            }
        }
    })?;
    Ok((WriterHandle { tx, healthy }, thread))
}
