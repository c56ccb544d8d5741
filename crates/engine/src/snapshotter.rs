//! Snapshots are encoded and written on a thread of their own, never on a
//! sale's task nor inside a commit of the log writer.
//!
//! At a snapshot point the sale task clones its `Sale` (a walk of its memory,
//! far cheaper than encoding it) and attaches the clone to its batch; once the
//! writer reports that batch durable, the clone goes to this thread, which
//! encodes it and stores it through the log's [`SnapshotStore`]. So a snapshot is
//! only ever written for an entry that is already durable. One snapshot is in
//! hand at a time: a sale that finds the thread busy takes no clone and tries
//! again with its next batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use stampede_core::{SNAPSHOT_FORMAT, Sale};
use stampede_log::{Hash, SaleId, Snapshot, SnapshotStore};
use tokio::sync::oneshot;

use crate::replay::encode_snapshot;
use crate::writer::OnDurable;

enum Msg {
    Take {
        sale: SaleId,
        seq: u64,
        hash: Hash,
        state: Box<Sale>,
        /// How long the sale task spent cloning it, for the log line.
        cloned_in: Duration,
    },
    /// Answered once every snapshot handed over before it is written.
    Flush(oneshot::Sender<()>),
}

/// The sales' side of the snapshot thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct Snapshotter {
    tx: mpsc::Sender<Msg>,
    /// A snapshot is cloned, waiting for its batch, or being written.
    busy: Arc<AtomicBool>,
}

impl Snapshotter {
    pub(crate) fn spawn(mut store: Box<dyn SnapshotStore>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let busy = Arc::new(AtomicBool::new(false));
        let flag = busy.clone();
        std::thread::Builder::new().name("stampede-snapshots".into()).spawn(move || {
            while let Ok(msg) = rx.recv() {
                match msg {
                    Msg::Take { sale, seq, hash, state, cloned_in } => {
                        let started = Instant::now();
                        if let Some(state) = encode_snapshot(&state) {
                            let encoded_in = started.elapsed();
                            let bytes = state.len();
                            let snap = Snapshot { sale, seq, hash, format: SNAPSHOT_FORMAT, state };
                            // A cache: a snapshot not written only means a longer replay.
                            match store.put(&snap) {
                                Ok(()) => tracing::info!(
                                    sale,
                                    seq,
                                    bytes,
                                    clone_ms = cloned_in.as_millis(),
                                    encode_ms = encoded_in.as_millis(),
                                    write_ms = (started.elapsed() - encoded_in).as_millis(),
                                    "snapshot written"
                                ),
                                Err(e) => tracing::warn!(sale, seq, error = %e, "snapshot not written"),
                            }
                        }
                        flag.store(false, Ordering::Release);
                    }
                    Msg::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        })?;
        Ok(Snapshotter { tx, busy })
    }

    /// Claims the thread for one snapshot; `false` when it has one in hand.
    pub(crate) fn claim(&self) -> bool {
        self.busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// After a successful [`Snapshotter::claim`]: the continuation of the batch
    /// that ends at entry (`seq`, `hash`), handing `state` to the thread once the
    /// batch is durable (and releasing the claim if it failed).
    pub(crate) fn when_durable(
        &self,
        sale: SaleId,
        seq: u64,
        hash: Hash,
        state: Sale,
        cloned_in: Duration,
    ) -> OnDurable {
        let tx = self.tx.clone();
        let busy = self.busy.clone();
        let state = Box::new(state);
        Box::new(move |ok| {
            if !ok || tx.send(Msg::Take { sale, seq, hash, state, cloned_in }).is_err() {
                busy.store(false, Ordering::Release);
            }
        })
    }

    /// Waits until every snapshot handed over so far is written.
    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}
