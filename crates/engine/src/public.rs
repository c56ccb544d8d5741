//! What the server publishes about a sale's log, and how anyone checks it
//! with no secret: the public log file and the receipt.
//!
//! **The public log file** is JSON lines: a header line
//! `{"format":"stampede-public-log","version":2,"sale":3}`, then one line per
//! entry in seq order, `{"sale":3,"seq":0,"at_us":…,"bytes":"…","record":{…},"hash":"…"}`:
//! `bytes` is the record exactly as stored, in base64url (only sealed sales
//! are published, so it names people by pseudonym), `record` is what those
//! bytes say as JSON, for people to read (a reader checks it against the
//! bytes), and the hash is the chain hash in lower-case hex. A JSON record
//! (sales logged before binary records) is carried as its text in
//! `payload` instead, as version 1 of the file did. Nothing is re-encoded:
//! the chain recomputes from the file alone.
//!
//! **A receipt** says "entry `seq` of sale `sale`, stamped `at_us`, with chain
//! hash `hash`, was sent by `by` (as the log names them) and answered with
//! the outcome whose digest is `outcome`", signed by the server's ed25519 key
//! ([`crate::receipt`] says how). [`check_receipt`] proves it against a
//! downloaded log: the signature, an intact chain, and that very entry with
//! that sender and outcome.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use stampede_log::{ChainTip, Entry, Hash, SaleId};

use crate::Logged;
use crate::receipt::strict_hash;
pub use crate::receipt::{RECEIPT_BATCH_DOMAIN, RECEIPT_DOMAIN, RECEIPT_LEN_MAX, RECEIPT_VERSION, Receipt};
use crate::record::{Record, hex};

/// The header line's `format`.
pub const LOG_FORMAT: &str = "stampede-public-log";
/// The header line's `version`. Version 1 files (payloads as text only) are read too.
pub const LOG_FORMAT_VERSION: u16 = 2;
/// Longest line of a public log read: a record is at most a seated sale's
/// `create` with its venue (8 MiB of body at most), escaped once.
pub const LOG_LINE_LEN_MAX: usize = 32 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublicError {
    #[error("line {line}: {problem}")]
    Malformed { line: u64, problem: String },
    #[error("not a receipt: {0}")]
    BadReceipt(String),
    #[error("the receipt's signature does not verify")]
    BadSignature,
    #[error("the receipt was signed by key {found}, not by the key given ({expected})")]
    WrongKey { found: String, expected: String },
    #[error("the receipt is for sale {receipt}, the log is sale {log}")]
    WrongSale { receipt: SaleId, log: SaleId },
    #[error("the log's chain is broken at seq {seq}: {problem}")]
    ChainBroken { seq: u64, problem: String },
    #[error("the log ends at seq {entries}, before the receipt's entry {seq}")]
    EntryMissing { seq: u64, entries: u64 },
    #[error("entry {seq} differs from the receipt: {problem}")]
    EntryDiffers { seq: u64, problem: String },
}

/// The header line of a public log file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogHeader {
    pub format: String,
    pub version: u16,
    pub sale: SaleId,
}

impl LogHeader {
    pub fn of(sale: SaleId) -> Self {
        LogHeader { format: LOG_FORMAT.into(), version: LOG_FORMAT_VERSION, sale }
    }

    pub fn parse(line: &str) -> Result<Self, PublicError> {
        let header: LogHeader =
            serde_json::from_str(line).map_err(|e| PublicError::Malformed { line: 1, problem: e.to_string() })?;
        if header.format != LOG_FORMAT || !(1..=LOG_FORMAT_VERSION).contains(&header.version) {
            return Err(PublicError::Malformed {
                line: 1,
                problem: format!("not a {LOG_FORMAT} of version 1 to {LOG_FORMAT_VERSION}"),
            });
        }
        Ok(header)
    }
}

/// One entry's line of a public log file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    pub sale: SaleId,
    pub seq: u64,
    pub at_us: i64,
    /// A JSON record (versions 1 and 2) as stored, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// A binary record (versions 3 and 4) as stored, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// What `bytes` says, for people; not hashed, and checked against `bytes` when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
    /// Lower-case hex of the chain hash.
    pub hash: String,
}

impl LogLine {
    /// A JSON record's line carries its text, as version 1 of the file did;
    /// any other payload its bytes and what they decode to.
    pub fn of(entry: &Entry) -> Self {
        let (payload, bytes, record) = match std::str::from_utf8(&entry.payload) {
            Ok(text) if text.starts_with('{') => (Some(text.to_owned()), None, None),
            _ => (
                None,
                Some(URL_SAFE_NO_PAD.encode(&entry.payload)),
                Record::decode(&entry.payload).ok().and_then(|r| serde_json::to_value(r).ok()),
            ),
        };
        LogLine { sale: entry.sale, seq: entry.seq, at_us: entry.at_us, payload, bytes, record, hash: hex(&entry.hash) }
    }

    /// The line's JSON and a newline.
    pub fn encode(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// Reads line number `line` (1 is the header) of a file.
    pub fn parse(text: &str, line: u64) -> Result<Entry, PublicError> {
        let malformed = |problem: String| PublicError::Malformed { line, problem };
        let l: LogLine = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        let hash = strict_hash(&l.hash).ok_or_else(|| malformed("`hash` is not 64 lower-case hex digits".into()))?;
        let payload = match (l.payload, l.bytes) {
            (Some(text), None) if l.record.is_none() => text.into_bytes(),
            (None, Some(b64)) => {
                let bytes = URL_SAFE_NO_PAD.decode(&b64).map_err(|e| malformed(format!("`bytes`: {e}")))?;
                // Canonical base64 only: another spelling of the same bytes is another file.
                if URL_SAFE_NO_PAD.encode(&bytes) != b64 {
                    return Err(malformed("`bytes` is not canonical base64url".into()));
                }
                if let Some(view) = l.record {
                    let said = Record::decode(&bytes).ok().and_then(|r| serde_json::to_value(r).ok());
                    if said.as_ref() != Some(&view) {
                        return Err(malformed("`record` is not what `bytes` say".into()));
                    }
                }
                bytes
            }
            _ => return Err(malformed("a line has either `payload` or `bytes` (with `record`)".into())),
        };
        Ok(Entry { sale: l.sale, seq: l.seq, at_us: l.at_us, payload, hash })
    }
}

/// What [`check_receipt`] proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptProof {
    pub logged: Logged,
    /// The recorded outcome, as its JSON.
    pub outcome: String,
    /// Entries in the log, every link checked.
    pub entries: u64,
    /// The last entry's hash: whoever holds it holds this whole chain.
    pub tip: Hash,
}

/// Proves `receipt` against a public log read line by line (`lines` yields
/// each line's text, the header first): the signature (by `expected_key`
/// when given), every link of the chain from the first entry to the last,
/// and that the entry at the receipt's seq has its time, hash, sender and
/// outcome.
pub fn check_receipt(
    receipt: &Receipt,
    expected_key: Option<&str>,
    lines: &mut dyn Iterator<Item = Result<String, PublicError>>,
) -> Result<ReceiptProof, PublicError> {
    let logged = receipt.verify_signature(expected_key)?;
    let header = LogHeader::parse(&lines.next().ok_or(PublicError::Malformed { line: 1, problem: "empty".into() })??)?;
    if header.sale != logged.sale {
        return Err(PublicError::WrongSale { receipt: logged.sale, log: header.sale });
    }
    let mut tip = ChainTip::genesis(header.sale);
    let mut outcome = None;
    for (n, line) in lines.enumerate() {
        let entry = LogLine::parse(&line?, n as u64 + 2)?;
        tip.accept(&entry).map_err(|e| PublicError::ChainBroken { seq: entry.seq, problem: e.to_string() })?;
        if entry.seq == logged.seq {
            outcome = Some(entry_matches(&entry, &logged)?);
        }
    }
    let Some(outcome) = outcome else {
        return Err(PublicError::EntryMissing { seq: logged.seq, entries: tip.next_seq });
    };
    Ok(ReceiptProof { logged, outcome, entries: tip.next_seq, tip: tip.last_hash })
}

fn entry_matches(entry: &Entry, logged: &Logged) -> Result<String, PublicError> {
    let differs = |problem: String| PublicError::EntryDiffers { seq: entry.seq, problem };
    if entry.hash != logged.hash {
        return Err(differs(format!("its hash is {}", hex(&entry.hash))));
    }
    if entry.at_us != logged.at_us {
        return Err(differs(format!("its time is {} µs", entry.at_us)));
    }
    let record = Record::decode(&entry.payload).map_err(|e| differs(e.to_string()))?;
    let Record::Cmd { by, out, .. } = record else { return Err(differs("it is not a command".into())) };
    if by != logged.by {
        return Err(differs(format!("it was sent by {by}")));
    }
    if Record::outcome_digest(&out) != logged.outcome {
        return Err(differs("its outcome is another".into()));
    }
    Ok(serde_json::to_string(&out).unwrap_or_default())
}
