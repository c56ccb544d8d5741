//! The acknowledgement file (`--acked-out`): one JSON line per outcome the
//! server acknowledged, written while the run goes on, read back by
//! `--verify-acked` to check that every acknowledged command survived (for
//! example a crash and restart of the server).
//!
//! ```text
//! {"sale":3,"user":17,"kind":"hold","hold":42,"quantity":1}
//! {"sale":3,"user":17,"kind":"order","hold":42,"quantity":1}
//! {"sale":4,"user":17,"kind":"click","rank":37,"clicked_at_us":1795377600012345}
//! ```
//!
//! `user` is the server's user id; an order has the id of the hold it came from.
//! Records are sent over a channel to a writer thread with a buffered file, so
//! the load tasks never block on the disk; the file is flushed when the writer
//! is finished or dropped.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::error::BenchError;

/// One acknowledged outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRecord {
    pub sale: u64,
    pub user: u64,
    #[serde(flatten)]
    pub what: Ack,
}

/// What was acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ack {
    /// `201` to `POST /holds`.
    Hold { hold: u64, quantity: u64 },
    /// `200` to `POST /holds/{hold}/confirm`.
    Order { hold: u64, quantity: u64 },
    /// `200` to `POST /clicks`.
    Click { rank: u64, clicked_at_us: i64 },
}

/// The sending side handed to load tasks (cheap to clone).
#[derive(Clone)]
pub(crate) struct AckSender(mpsc::Sender<AckRecord>);

impl AckSender {
    pub fn send(&self, record: AckRecord) {
        // A closed channel means the writer failed; `AckWriter::finish` reports it.
        let _ = self.0.send(record);
    }
}

/// The writer thread and its file.
pub(crate) struct AckWriter {
    path: PathBuf,
    tx: Option<mpsc::Sender<AckRecord>>,
    thread: Option<JoinHandle<std::io::Result<u64>>>,
}

impl AckWriter {
    /// Creates (truncates) the file and starts the writer thread.
    pub fn create(path: &Path) -> Result<AckWriter, BenchError> {
        let io_err = |source| BenchError::AckedIo { path: path.to_owned(), source };
        let file = File::create(path).map_err(io_err)?;
        let (tx, rx) = mpsc::channel::<AckRecord>();
        let thread = std::thread::Builder::new()
            .name("bench-acked".into())
            .spawn(move || {
                let mut out = BufWriter::with_capacity(1 << 16, file);
                let mut written = 0u64;
                for record in rx {
                    serde_json::to_writer(&mut out, &record)?;
                    out.write_all(b"\n")?;
                    written += 1;
                }
                out.flush()?;
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                Ok(written)
            })
            .map_err(io_err)?;
        Ok(AckWriter { path: path.to_owned(), tx: Some(tx), thread: Some(thread) })
    }

    pub fn sender(&self) -> Option<AckSender> {
        self.tx.clone().map(AckSender)
    }

    /// Closes the channel, waits for the thread to flush and returns the number
    /// of records written. Every [`AckSender`] must have been dropped.
    pub fn finish(mut self) -> Result<u64, BenchError> {
        self.join()
    }

    fn join(&mut self) -> Result<u64, BenchError> {
        self.tx = None;
        let Some(thread) = self.thread.take() else {
            return Ok(0);
        };
        match thread.join() {
            Ok(result) => result.map_err(|source| BenchError::AckedIo { path: self.path.clone(), source }),
            Err(_) => Err(BenchError::Internal("acknowledgement writer panicked".into())),
        }
    }
}

impl Drop for AckWriter {
    fn drop(&mut self) {
        // On an early error return: still flush what was acknowledged. Senders
        // held by tasks still running are gone by then (tasks are joined or
        // aborted before the writer is dropped).
        let _ = self.join();
    }
}

/// Reads every record of an acknowledgement file (blank lines are skipped).
pub fn read_acked(path: &Path) -> Result<Vec<AckRecord>, BenchError> {
    let io_err = |source| BenchError::AckedIo { path: path.to_owned(), source };
    let reader = BufReader::new(File::open(path).map_err(io_err)?);
    let mut records = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(io_err)?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|source| BenchError::AckedParse {
            path: path.to_owned(),
            line: index + 1,
            source,
        })?;
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acked.jsonl");
        let records = vec![
            AckRecord { sale: 3, user: 17, what: Ack::Hold { hold: 42, quantity: 1 } },
            AckRecord { sale: 3, user: 17, what: Ack::Order { hold: 42, quantity: 1 } },
            AckRecord { sale: 4, user: 18, what: Ack::Click { rank: 37, clicked_at_us: 1_795_377_600_012_345 } },
        ];
        let writer = AckWriter::create(&path).unwrap();
        let sender = writer.sender().unwrap();
        let sender2 = sender.clone();
        let t = std::thread::spawn(move || {
            for r in &records[..2] {
                sender2.send(*r);
            }
            records
        });
        let records = t.join().unwrap();
        sender.send(records[2]);
        drop(sender);
        assert_eq!(writer.finish().unwrap(), 3);

        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(first, r#"{"sale":3,"user":17,"kind":"hold","hold":42,"quantity":1}"#);
        assert_eq!(read_acked(&path).unwrap(), records);
    }

    #[test]
    fn bad_line_is_reported_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acked.jsonl");
        std::fs::write(&path, "{\"sale\":1,\"user\":2,\"kind\":\"hold\",\"hold\":3,\"quantity\":1}\n\n{\"sale\":1}\n")
            .unwrap();
        match read_acked(&path) {
            Err(BenchError::AckedParse { line, .. }) => assert_eq!(line, 3),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn drop_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acked.jsonl");
        {
            let writer = AckWriter::create(&path).unwrap();
            writer.sender().unwrap().send(AckRecord {
                sale: 1,
                user: 1,
                what: Ack::Click { rank: 1, clicked_at_us: 5 },
            });
        }
        assert_eq!(read_acked(&path).unwrap().len(), 1);
    }
}
