//! The server under torture: `stampede serve` as a child process on one data
//! directory, started, SIGKILLed and started again, and `stampede verify` run
//! on its data while it is down.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::BenchError;

/// What the server prints once it accepts connections (crates/cli/src/main.rs).
const LISTENING: &str = "stampede listening on ";

/// How to start the server.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// The `stampede` binary.
    pub exe: PathBuf,
    pub data: PathBuf,
    /// The server's stderr, appended over every start.
    pub log: PathBuf,
    pub admin_token: String,
}

/// A running (or starting) server process.
pub(crate) struct Server {
    child: Child,
    /// The URL from the "listening" line, once printed; disconnected when the
    /// process closed its stdout (it exited).
    listening: mpsc::Receiver<String>,
}

fn internal(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Internal(format!("{what}: {e}"))
}

impl Server {
    /// Spawns `stampede serve` listening on `listen` (`127.0.0.1:0` the first time).
    pub(crate) fn spawn(launch: &Launch, listen: &str) -> Result<Server, BenchError> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&launch.log)
            .map_err(|e| internal(&format!("opening {}", launch.log.display()), e))?;
        let mut child = Command::new(&launch.exe)
            .args(["serve", "--data"])
            .arg(&launch.data)
            .args(["--listen", listen])
            .env("STAMPEDE_ADMIN_TOKEN", &launch.admin_token)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| internal(&format!("starting {}", launch.exe.display()), e))?;
        let stdout = child.stdout.take().ok_or_else(|| BenchError::Internal("the server has no stdout".into()))?;
        let (tx, listening) = mpsc::channel();
        std::thread::Builder::new()
            .name("torture-stdout".into())
            .spawn(move || {
                // Keeps draining after the line, so the server never blocks on a full pipe.
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(url) = line.strip_prefix(LISTENING) {
                        let _ = tx.send(url.trim().to_owned());
                    }
                }
            })
            .map_err(|e| internal("starting a thread", e))?;
        Ok(Server { child, listening })
    }

    /// Waits for the "listening" line: `Ok(None)` when the process exited
    /// first (for example its port was not free yet).
    pub(crate) async fn listening(&mut self, within: Duration) -> Result<Option<String>, BenchError> {
        let (rx, result) = {
            let rx = std::mem::replace(&mut self.listening, mpsc::channel().1);
            tokio::task::spawn_blocking(move || {
                let got = rx.recv_timeout(within);
                (rx, got)
            })
            .await
            .map_err(|e| internal("waiting for the server", e))?
        };
        self.listening = rx;
        match result {
            Ok(url) => Ok(Some(url)),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = self.child.wait();
                Ok(None)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(BenchError::Internal(format!("the server did not listen within {within:?}")))
            }
        }
    }

    /// SIGKILL, then reap the process (its SQLite locks go with it).
    pub(crate) fn kill(mut self) -> Result<(), BenchError> {
        // An error means it already exited; `wait` reaps it either way.
        let _ = self.child.kill();
        self.child.wait().map_err(|e| internal("reaping the server", e))?;
        Ok(())
    }
}

impl Drop for Server {
    /// A run that stops on an error leaves no server behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts the server on `listen`, trying again while the port is not yet
/// free (the killed process's socket may linger for a moment).
pub(crate) async fn start(launch: &Launch, listen: &str) -> Result<(Server, String), BenchError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut server = Server::spawn(launch, listen)?;
        if let Some(url) = server.listening(Duration::from_secs(120)).await? {
            return Ok((server, url));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BenchError::Internal(format!(
                "the server kept exiting before it listened on {listen}; see {}",
                launch.log.display()
            )));
        }
        // Waiting for the port, which no event announces.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `stampede verify --data DIR` (the server must be down): `Ok(None)` when
/// clean, else what it printed.
pub(crate) async fn verify(launch: &Launch) -> Result<Option<String>, BenchError> {
    let (exe, data) = (launch.exe.clone(), launch.data.clone());
    let out = tokio::task::spawn_blocking(move || Command::new(&exe).args(["verify", "--data"]).arg(&data).output())
        .await
        .map_err(|e| internal("running verify", e))?
        .map_err(|e| internal("running verify", e))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let clean = out.status.success() && text.contains("failed=0") && !text.contains("FAILED");
    Ok(if clean { None } else { Some(format!("{text}{}", String::from_utf8_lossy(&out.stderr))) })
}

/// The data directory's size on disk, for the report.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}
