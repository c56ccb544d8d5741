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
//! under the domain tag [`RECEIPT_DOMAIN`]. [`check_receipt`] proves it
//! against a downloaded log: the signature, an intact chain, and that very
//! entry with that sender and outcome.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use stampede_log::{ChainTip, Entry, Hash, SaleId};

use crate::Logged;
use crate::record::{Record, hex, unhex32};

/// The header line's `format`.
pub const LOG_FORMAT: &str = "stampede-public-log";
/// The header line's `version`. Version 1 files (payloads as text only) are read too.
pub const LOG_FORMAT_VERSION: u16 = 2;
/// Signed before a receipt's fields, so its signature means nothing elsewhere
/// (the same key signs waiting-room passes under another tag).
pub const RECEIPT_DOMAIN: &[u8] = b"stampede-receipt-v1";
/// A receipt's `v`.
pub const RECEIPT_VERSION: u16 = 1;
/// Longest receipt text read (its JSON is about 400 bytes).
pub const RECEIPT_LEN_MAX: usize = 2048;
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

/// Lower-case hex only: an upper-case digit would be another file with the same meaning.
fn strict_hash(text: &str) -> Option<Hash> {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)).then(|| unhex32(text)).flatten()
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

/// A signed receipt, as the API hands it out (header `Stampede-Receipt`,
/// base64url of this JSON) and `stampede verify-receipt` reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub v: u16,
    pub sale: SaleId,
    /// The entry's place in the sale's log.
    pub seq: u64,
    /// The entry's server time, microseconds since the Unix epoch.
    pub at_us: i64,
    /// The entry's chain hash, lower-case hex.
    pub hash: String,
    /// The sender as the log names them: their pseudonym in this sale.
    pub by: u64,
    /// The recorded outcome's digest ([`Record::outcome_digest`]), lower-case hex.
    pub outcome: String,
    /// The signer's ed25519 public key, base64url.
    pub key: String,
    /// The signature, base64url.
    pub sig: String,
}

fn signed_bytes(v: u16, l: &Logged) -> Vec<u8> {
    let mut m = Vec::with_capacity(RECEIPT_DOMAIN.len() + 2 + 8 * 4 + 64);
    m.extend_from_slice(RECEIPT_DOMAIN);
    m.extend_from_slice(&v.to_le_bytes());
    m.extend_from_slice(&l.sale.to_le_bytes());
    m.extend_from_slice(&l.seq.to_le_bytes());
    m.extend_from_slice(&l.at_us.to_le_bytes());
    m.extend_from_slice(&l.hash);
    m.extend_from_slice(&l.by.to_le_bytes());
    m.extend_from_slice(&l.outcome);
    m
}

impl Receipt {
    pub fn sign(logged: &Logged, key: &SigningKey) -> Self {
        let sig = key.sign(&signed_bytes(RECEIPT_VERSION, logged));
        Receipt {
            v: RECEIPT_VERSION,
            sale: logged.sale,
            seq: logged.seq,
            at_us: logged.at_us,
            hash: hex(&logged.hash),
            by: logged.by,
            outcome: hex(&logged.outcome),
            key: URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
            sig: URL_SAFE_NO_PAD.encode(sig.to_bytes()),
        }
    }

    /// The header value: base64url of the JSON.
    pub fn to_header(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a receipt given as its JSON or as the header value.
    pub fn parse(text: &str) -> Result<Self, PublicError> {
        let text = text.trim();
        if text.len() > RECEIPT_LEN_MAX {
            return Err(PublicError::BadReceipt("too long".into()));
        }
        let json = if text.starts_with('{') {
            text.as_bytes().to_vec()
        } else {
            URL_SAFE_NO_PAD.decode(text).map_err(|e| PublicError::BadReceipt(e.to_string()))?
        };
        serde_json::from_slice(&json).map_err(|e| PublicError::BadReceipt(e.to_string()))
    }

    /// The fields as signed, after checking they are well formed.
    fn logged(&self) -> Result<Logged, PublicError> {
        if self.v != RECEIPT_VERSION {
            return Err(PublicError::BadReceipt(format!("version {} is not known", self.v)));
        }
        let bad = |what: &str| PublicError::BadReceipt(format!("`{what}` is not 64 lower-case hex digits"));
        Ok(Logged {
            sale: self.sale,
            seq: self.seq,
            at_us: self.at_us,
            hash: strict_hash(&self.hash).ok_or_else(|| bad("hash"))?,
            by: self.by,
            outcome: strict_hash(&self.outcome).ok_or_else(|| bad("outcome"))?,
        })
    }

    /// Checks the signature (by `expected_key` when given, base64url), and
    /// returns the signed fields.
    pub fn verify_signature(&self, expected_key: Option<&str>) -> Result<Logged, PublicError> {
        let logged = self.logged()?;
        if let Some(expected) = expected_key
            && expected.trim() != self.key
        {
            return Err(PublicError::WrongKey { found: self.key.clone(), expected: expected.trim().to_owned() });
        }
        let bad = || PublicError::BadReceipt("`key` or `sig` is not base64url of the right length".into());
        let key: [u8; 32] = URL_SAFE_NO_PAD.decode(&self.key).ok().and_then(|k| k.try_into().ok()).ok_or_else(bad)?;
        let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(&self.sig).ok().and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
        // Canonical base64 only: another spelling of the same bytes is another receipt.
        if URL_SAFE_NO_PAD.encode(key) != self.key || URL_SAFE_NO_PAD.encode(sig) != self.sig {
            return Err(bad());
        }
        let key = VerifyingKey::from_bytes(&key).map_err(|_| PublicError::BadSignature)?;
        key.verify_strict(&signed_bytes(self.v, &logged), &Signature::from_bytes(&sig))
            .map_err(|_| PublicError::BadSignature)?;
        Ok(logged)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn logged() -> Logged {
        Logged { sale: 3, seq: 37, at_us: 1_800_000_000_012_000, hash: [0xab; 32], by: 99, outcome: [6; 32] }
    }

    #[test]
    fn a_receipt_round_trips_and_any_changed_field_fails() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let r = Receipt::sign(&logged(), &key);
        let back = Receipt::parse(&r.to_header()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, r);
        assert_eq!(back.verify_signature(Some(&r.key)), Ok(logged()));
        let mut seq = r.clone();
        seq.seq += 1;
        assert_eq!(seq.verify_signature(None), Err(PublicError::BadSignature));
        let mut by = r.clone();
        by.by += 1;
        assert_eq!(by.verify_signature(None), Err(PublicError::BadSignature));
        let mut upper = r.clone();
        upper.hash = upper.hash.to_uppercase();
        assert!(matches!(upper.verify_signature(None), Err(PublicError::BadReceipt(_))));
        let other = URL_SAFE_NO_PAD.encode(SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes());
        assert!(matches!(r.verify_signature(Some(&other)), Err(PublicError::WrongKey { .. })));
    }
}
