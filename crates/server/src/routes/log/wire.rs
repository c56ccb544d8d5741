//! What the public-log routes answer.

use serde::Serialize;
use utoipa::ToSchema;

/// The key that signs receipts (and waiting-room passes, under another
/// domain tag).
#[derive(Serialize, ToSchema)]
pub struct ReceiptKeyOut {
    /// Always `ed25519`.
    pub algorithm: &'static str,
    /// base64url of the 32-byte public key; a receipt's `key` must be this.
    pub public_key: String,
    /// The tag signed before a receipt batch's size and root
    /// (`stampede-receipt-batch-v2`; version 1 receipts used `stampede-receipt-v1`).
    pub domain: &'static str,
}

/// How the sale's published log names you.
#[derive(Serialize, ToSchema)]
pub struct LogIdentityOut {
    pub sale: u64,
    /// Your pseudonym in this sale: the `by` of your entries in its log
    /// (and of your receipts). Nobody else can link it to your account, and
    /// it differs from sale to sale.
    pub pseudonym: u64,
}

/// A signed receipt, sent as the `Stampede-Receipt` header (base64url of
/// this JSON) with the answer to every command the sale logged, refusals
/// included. `stampede verify-receipt` proves it against the sale's log.
#[derive(Serialize, ToSchema)]
pub struct ReceiptOut {
    /// Format version (2; version 1 receipts have no `leaf`, `leaves` or `path`).
    pub v: u16,
    pub sale: u64,
    /// The entry's place in the sale's log.
    pub seq: u64,
    /// The entry's server time, microseconds since the Unix epoch.
    pub at_us: i64,
    /// The entry's chain hash, lower-case hex.
    pub hash: String,
    /// Who sent the command, as the log names them (your pseudonym).
    pub by: u64,
    /// BLAKE3 of the recorded outcome as the log encodes it, lower-case hex.
    pub outcome: String,
    /// This receipt's leaf among its batch's, from 0.
    pub leaf: u64,
    /// How many receipts the batch signed together.
    pub leaves: u64,
    /// The audit path from the leaf to the batch's root (RFC 9162): 32-byte
    /// BLAKE3 hashes, concatenated, base64url.
    pub path: String,
    /// base64url of the signer's ed25519 public key.
    pub key: String,
    /// base64url of the signature over the batch (docs/API.md, "Receipts").
    pub sig: String,
}
