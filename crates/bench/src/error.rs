//! The error type of the load generator.
//!
//! Failures of individual load requests are never errors: they are counted in
//! the [`Summary`](crate::Summary). A [`BenchError`] means the run itself could
//! not be carried out (bad arguments, unreachable server, provisioning refused,
//! unreadable acknowledgement file...).

use std::path::PathBuf;

/// Why a bench run or a verification could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A command-line value is out of range.
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),

    /// The `--target` URL cannot be used.
    #[error("invalid target {url:?}: {reason}")]
    Target { url: String, reason: String },

    /// The scenario needs an admin token and none was given.
    #[error(
        "the {0} needs an admin token: pass --admin-token or set STAMPEDE_ADMIN_TOKEN \
         (the server accepts the value of its own STAMPEDE_ADMIN_TOKEN)"
    )]
    MissingAdminToken(&'static str),

    /// The server could not be reached (after retrying).
    #[error("{method} {path}: cannot reach the server: {reason}")]
    Unreachable { method: String, path: String, reason: String },

    /// The server answered a provisioning or checking request with an error.
    #[error("{method} {path}: the server answered {status}{problem}")]
    Api {
        method: String,
        path: String,
        status: u16,
        /// ` (type, detail)` when the answer was a problem document, else empty.
        problem: String,
    },

    /// The server answered with something that does not match docs/API.md.
    #[error("{method} {path}: unexpected answer: {reason}")]
    Protocol { method: String, path: String, reason: String },

    /// Reading or writing the acknowledgement file failed.
    #[error("acknowledgement file {path}: {source}")]
    AckedIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A line of the acknowledgement file is not a valid record.
    #[error("acknowledgement file {path}, line {line}: {source}")]
    AckedParse {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },

    /// A bug in the load generator itself (a worker task panicked...).
    #[error("internal error: {0}")]
    Internal(String),

    /// The run could not open the connections it needs.
    #[error("cannot open what the run needs: {0}")]
    CannotOpen(String),
}
