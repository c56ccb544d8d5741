//! Receipts: the server's signed word that a command is in a sale's log.
//!
//! A receipt says "entry `seq` of sale `sale`, stamped `at_us`, with chain
//! hash `hash`, was sent by `by` (as the log names them) and answered with
//! the outcome whose digest is `outcome`". Anyone checks it with the server's
//! public key alone, and against a downloaded log with
//! [`crate::public::check_receipt`].
//!
//! **Version 2** (what the server hands out) signs a whole batch at once. The
//! commands a sale answers from one durable batch are the leaves of a Merkle
//! tree shaped as RFC 9162 (Certificate Transparency) shapes it; one ed25519
//! signature covers the sale, the number of leaves and the root, under the
//! domain tag [`RECEIPT_BATCH_DOMAIN`]. Each receipt carries its leaf's index
//! and the sibling hashes up to the root (at most about ten for the largest
//! batch). Signing once per batch rather than once per command is what made
//! receipts cheap: a signature cost a fifth of a hold's CPU (BENCHMARKS.md,
//! issue 12).
//!
//! **Version 1** receipts (one signature per command, domain tag
//! [`RECEIPT_DOMAIN`]) were handed out before; they still verify, forever.
//!
//! Hashes are BLAKE3: a leaf is `H(0x00 ‖ leaf tag ‖ fields)`, an inner node
//! `H(0x01 ‖ left ‖ right)`, so a leaf can never pass for a node.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use stampede_log::Hash;

use crate::Logged;
use crate::public::PublicError;
use crate::record::{hex, unhex32};

/// Signed before a version 1 receipt's fields, so its signature means nothing
/// elsewhere (the same key signs waiting-room passes under another tag).
pub const RECEIPT_DOMAIN: &[u8] = b"stampede-receipt-v1";
/// Signed before a version 2 batch's sale, size and root.
pub const RECEIPT_BATCH_DOMAIN: &[u8] = b"stampede-receipt-batch-v2";
/// Hashed into every version 2 leaf.
const RECEIPT_LEAF_DOMAIN: &[u8] = b"stampede-receipt-leaf-v2";
/// A receipt's `v` when signed alone.
pub const RECEIPT_VERSION_SINGLE: u16 = 1;
/// A receipt's `v` when signed with its batch: what the server hands out.
pub const RECEIPT_VERSION: u16 = 2;
/// Longest receipt text read (a version 2 JSON from the largest batch is
/// under 900 bytes, its header under 1,200).
pub const RECEIPT_LEN_MAX: usize = 2048;
/// Most sibling hashes in a path read: a tree of 2^32 leaves. Real batches
/// have at most a few thousand.
const PATH_HASHES_MAX: usize = 32;

/// A signed receipt, as the API hands it out (header `Stampede-Receipt`,
/// base64url of this JSON) and `stampede verify-receipt` reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub v: u16,
    pub sale: u64,
    /// The entry's place in the sale's log.
    pub seq: u64,
    /// The entry's server time, microseconds since the Unix epoch.
    pub at_us: i64,
    /// The entry's chain hash, lower-case hex.
    pub hash: String,
    /// The sender as the log names them: their pseudonym in this sale.
    pub by: u64,
    /// The recorded outcome's digest ([`crate::record::Record::outcome_digest`]), lower-case hex.
    pub outcome: String,
    /// Version 2: this receipt's leaf in its batch, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf: Option<u64>,
    /// Version 2: how many receipts the batch signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaves: Option<u64>,
    /// Version 2: the sibling hashes from the leaf up to the root, 32 bytes
    /// each, concatenated, base64url (empty for a batch of one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The signer's ed25519 public key, base64url.
    pub key: String,
    /// The signature, base64url.
    pub sig: String,
}

/// The acknowledged commands of one batch of one sale, in log order, signed
/// together the first time one of their receipts is asked for.
#[derive(Debug)]
pub struct ReceiptBatch {
    leaves: Vec<Logged>,
    sealed: OnceLock<Sealed>,
}

#[derive(Debug)]
struct Sealed {
    /// The tree, bottom level (the leaves' hashes) first, the root last.
    levels: Vec<Vec<Hash>>,
    key: [u8; 32],
    sig: [u8; 64],
}

impl PartialEq for ReceiptBatch {
    fn eq(&self, other: &Self) -> bool {
        self.leaves == other.leaves
    }
}

impl Eq for ReceiptBatch {}

/// One command's place in its batch: what its receipt is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPlace {
    pub batch: Arc<ReceiptBatch>,
    pub leaf: usize,
}

impl ReceiptBatch {
    /// `leaves` must all be entries of one sale, in log order.
    pub fn new(leaves: Vec<Logged>) -> Self {
        ReceiptBatch { leaves, sealed: OnceLock::new() }
    }

    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// The tree and its signature by `key`, made once: every later receipt of
    /// the batch reuses them (the server has one key).
    fn seal(&self, key: &SigningKey) -> &Sealed {
        self.sealed.get_or_init(|| {
            let levels = tree(self.leaves.iter().map(leaf_hash).collect());
            let root = levels.last().and_then(|top| top.first()).copied().unwrap_or([0; 32]);
            let sale = self.leaves.first().map_or(0, |l| l.sale);
            let sig = key.sign(&batch_bytes(sale, self.leaves.len() as u64, &root));
            Sealed { levels, key: key.verifying_key().to_bytes(), sig: sig.to_bytes() }
        })
    }
}

impl BatchPlace {
    pub fn logged(&self) -> Option<&Logged> {
        self.batch.leaves.get(self.leaf)
    }

    /// This command's receipt, signed by `key` with the rest of its batch.
    pub fn receipt(&self, key: &SigningKey) -> Option<Receipt> {
        let logged = self.logged()?;
        let sealed = self.batch.seal(key);
        let path: Vec<u8> = inclusion_path(&sealed.levels, self.leaf).into_iter().flatten().collect();
        Some(Receipt {
            v: RECEIPT_VERSION,
            sale: logged.sale,
            seq: logged.seq,
            at_us: logged.at_us,
            hash: hex(&logged.hash),
            by: logged.by,
            outcome: hex(&logged.outcome),
            leaf: Some(self.leaf as u64),
            leaves: Some(self.batch.leaves.len() as u64),
            path: Some(URL_SAFE_NO_PAD.encode(path)),
            key: URL_SAFE_NO_PAD.encode(sealed.key),
            sig: URL_SAFE_NO_PAD.encode(sealed.sig),
        })
    }
}

/// The levels of the tree over `leaves`: pairs hash into their parent, and an
/// odd last node is carried up unchanged. That is the same tree as RFC 9162's
/// recursive definition (split at the largest power of two below the size),
/// built bottom-up; the tests check it against the recursive one.
fn tree(leaves: Vec<Hash>) -> Vec<Vec<Hash>> {
    let mut levels = vec![leaves];
    while let Some(below) = levels.last().filter(|l| l.len() > 1) {
        let above = below.chunks(2).map(|pair| if let [l, r] = pair { node_hash(l, r) } else { pair[0] }).collect();
        levels.push(above);
    }
    levels
}

/// The siblings from leaf `index` up to the root, skipping the levels where
/// its node is carried up alone (as RFC 9162's audit path does).
fn inclusion_path(levels: &[Vec<Hash>], mut index: usize) -> Vec<Hash> {
    let mut path = Vec::new();
    for level in levels {
        if let Some(sibling) = level.get(index ^ 1) {
            path.push(*sibling);
        }
        index /= 2;
    }
    path
}

/// RFC 9162 section 2.1.3.2: the root that `leaf` at `index` of a tree of
/// `size` leaves folds to with `path`, or `None` if the path cannot belong to
/// such a tree.
fn root_from_path(leaf: Hash, index: u64, size: u64, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut f, mut s, mut r) = (index, size - 1, leaf);
    for p in path {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

fn leaf_hash(l: &Logged) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[0]);
    h.update(RECEIPT_LEAF_DOMAIN);
    h.update(&fields(l));
    *h.finalize().as_bytes()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[1]);
    h.update(left);
    h.update(right);
    *h.finalize().as_bytes()
}

/// The fields a receipt vouches for, in a fixed layout.
fn fields(l: &Logged) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 * 4 + 64);
    m.extend_from_slice(&l.sale.to_le_bytes());
    m.extend_from_slice(&l.seq.to_le_bytes());
    m.extend_from_slice(&l.at_us.to_le_bytes());
    m.extend_from_slice(&l.hash);
    m.extend_from_slice(&l.by.to_le_bytes());
    m.extend_from_slice(&l.outcome);
    m
}

fn batch_bytes(sale: u64, leaves: u64, root: &Hash) -> Vec<u8> {
    let mut m = Vec::with_capacity(RECEIPT_BATCH_DOMAIN.len() + 2 + 16 + 32);
    m.extend_from_slice(RECEIPT_BATCH_DOMAIN);
    m.extend_from_slice(&RECEIPT_VERSION.to_le_bytes());
    m.extend_from_slice(&sale.to_le_bytes());
    m.extend_from_slice(&leaves.to_le_bytes());
    m.extend_from_slice(root);
    m
}

fn single_bytes(l: &Logged) -> Vec<u8> {
    let mut m = Vec::with_capacity(RECEIPT_DOMAIN.len() + 2 + 8 * 4 + 64);
    m.extend_from_slice(RECEIPT_DOMAIN);
    m.extend_from_slice(&RECEIPT_VERSION_SINGLE.to_le_bytes());
    m.extend_from_slice(&fields(l));
    m
}

/// Lower-case hex only: an upper-case digit would be another receipt with the same meaning.
pub(crate) fn strict_hash(text: &str) -> Option<Hash> {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)).then(|| unhex32(text)).flatten()
}

impl Receipt {
    /// A receipt for one command alone (a batch of one).
    pub fn sign(logged: &Logged, key: &SigningKey) -> Self {
        let place = BatchPlace { batch: Arc::new(ReceiptBatch::new(vec![*logged])), leaf: 0 };
        match place.receipt(key) {
            Some(r) => r,
            // Unreachable: the batch has this one leaf.
            None => Receipt::sign_single(logged, key),
        }
    }

    /// A version 1 receipt, as servers signed them before batches: kept so the
    /// tests can prove those still verify.
    pub fn sign_single(logged: &Logged, key: &SigningKey) -> Self {
        let sig = key.sign(&single_bytes(logged));
        Receipt {
            v: RECEIPT_VERSION_SINGLE,
            sale: logged.sale,
            seq: logged.seq,
            at_us: logged.at_us,
            hash: hex(&logged.hash),
            by: logged.by,
            outcome: hex(&logged.outcome),
            leaf: None,
            leaves: None,
            path: None,
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

    /// What the signature covers, for this receipt's version.
    fn signed_message(&self, logged: &Logged) -> Result<Vec<u8>, PublicError> {
        let bad = |problem: &str| PublicError::BadReceipt(problem.into());
        match (self.v, self.leaf, self.leaves, &self.path) {
            (RECEIPT_VERSION_SINGLE, None, None, None) => Ok(single_bytes(logged)),
            (RECEIPT_VERSION_SINGLE, ..) => Err(bad("a version 1 receipt has no `leaf`, `leaves` or `path`")),
            (RECEIPT_VERSION, Some(leaf), Some(leaves), Some(path)) => {
                let bytes = URL_SAFE_NO_PAD
                    .decode(path)
                    .ok()
                    .filter(|b| b.len() % 32 == 0 && b.len() / 32 <= PATH_HASHES_MAX)
                    .ok_or_else(|| bad("`path` is not base64url of whole 32-byte hashes"))?;
                // Canonical base64 only: another spelling of the same bytes is another receipt.
                if URL_SAFE_NO_PAD.encode(&bytes) != *path {
                    return Err(bad("`path` is not canonical base64url"));
                }
                let path: Vec<Hash> = bytes.chunks_exact(32).map(|c| c.try_into().unwrap_or([0; 32])).collect();
                let root = root_from_path(leaf_hash(logged), leaf, leaves, &path)
                    .ok_or_else(|| bad("`path` does not fit `leaf` and `leaves`"))?;
                Ok(batch_bytes(logged.sale, leaves, &root))
            }
            (RECEIPT_VERSION, ..) => Err(bad("a version 2 receipt has `leaf`, `leaves` and `path`")),
            (v, ..) => Err(PublicError::BadReceipt(format!("version {v} is not known"))),
        }
    }

    /// Checks the signature (by `expected_key` when given, base64url), and
    /// returns the signed fields.
    pub fn verify_signature(&self, expected_key: Option<&str>) -> Result<Logged, PublicError> {
        let logged = self.logged()?;
        let message = self.signed_message(&logged)?;
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
        key.verify_strict(&message, &Signature::from_bytes(&sig)).map_err(|_| PublicError::BadSignature)?;
        Ok(logged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(seq: u64) -> Logged {
        Logged { sale: 3, seq, at_us: 1_800_000_000_012_000 + seq as i64, hash: [0xab; 32], by: 99, outcome: [6; 32] }
    }

    /// RFC 9162's recursive definitions, written as the RFC states them.
    fn rfc_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            1 => leaves[0],
            n => {
                let k = split(n);
                node_hash(&rfc_root(&leaves[..k]), &rfc_root(&leaves[k..]))
            }
        }
    }

    fn rfc_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        match leaves.len() {
            1 => Vec::new(),
            n => {
                let k = split(n);
                if m < k {
                    let mut p = rfc_path(m, &leaves[..k]);
                    p.push(rfc_root(&leaves[k..]));
                    p
                } else {
                    let mut p = rfc_path(m - k, &leaves[k..]);
                    p.push(rfc_root(&leaves[..k]));
                    p
                }
            }
        }
    }

    /// The largest power of two below `n`.
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    #[test]
    fn the_tree_is_rfc_9162s_tree_and_every_path_folds_to_its_root() {
        for n in 1..=70usize {
            let leaves: Vec<Hash> = (0..n as u64).map(|s| leaf_hash(&logged(s))).collect();
            let levels = tree(leaves.clone());
            let root = levels.last().map(|l| l[0]);
            assert_eq!(root, Some(rfc_root(&leaves)), "root of {n}");
            for m in 0..n {
                let path = inclusion_path(&levels, m);
                assert_eq!(path, rfc_path(m, &leaves), "path of {m} in {n}");
                assert_eq!(root_from_path(leaves[m], m as u64, n as u64, &path), root, "fold of {m} in {n}");
                // The same path under another index or size proves nothing.
                if n > 1 {
                    assert_ne!(root_from_path(leaves[m], ((m + 1) % n) as u64, n as u64, &path), root);
                }
                // (The same path may fold to the same root in a larger tree,
                // 0 of 3 as 0 of 4: the signature covers the size for that.)
            }
        }
    }

    #[test]
    fn every_receipt_of_a_batch_verifies_and_any_changed_field_fails() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let batch = Arc::new(ReceiptBatch::new((10..23).map(logged).collect()));
        for leaf in 0..batch.len() {
            let r = BatchPlace { batch: batch.clone(), leaf }.receipt(&key).unwrap_or_else(|| panic!("leaf {leaf}"));
            let back = Receipt::parse(&r.to_header()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, r);
            assert!(r.to_header().len() < RECEIPT_LEN_MAX);
            assert_eq!(back.verify_signature(Some(&r.key)), Ok(logged(10 + leaf as u64)));
            let mut seq = r.clone();
            seq.seq += 1;
            assert!(seq.verify_signature(None).is_err());
            let mut by = r.clone();
            by.by += 1;
            assert_eq!(by.verify_signature(None), Err(PublicError::BadSignature));
            let mut moved = r.clone();
            moved.leaf = Some((leaf as u64 + 1) % batch.len() as u64);
            assert!(moved.verify_signature(None).is_err());
            let mut grown = r.clone();
            grown.leaves = grown.leaves.map(|n| n + 1);
            assert!(grown.verify_signature(None).is_err());
            let mut single = r.clone();
            single.v = RECEIPT_VERSION_SINGLE;
            assert!(matches!(single.verify_signature(None), Err(PublicError::BadReceipt(_))));
        }
    }

    #[test]
    fn a_version_1_receipt_still_verifies() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let r = Receipt::sign_single(&logged(37), &key);
        let back = Receipt::parse(&r.to_header()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.verify_signature(Some(&r.key)), Ok(logged(37)));
        // Pinned: what version 1 signs never changes (ed25519 signatures are deterministic).
        assert_eq!(r.sig, "SozmcTBr0Ss6y02Nlyv_XcCTPysxcW9z1OmUPgcABqtssBD4KcstFrqBwWnczIi_1tQ73XiLPC73uVpq6FODDw");
        let mut upper = r.clone();
        upper.hash = upper.hash.to_uppercase();
        assert!(matches!(upper.verify_signature(None), Err(PublicError::BadReceipt(_))));
        let other = URL_SAFE_NO_PAD.encode(SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes());
        assert!(matches!(r.verify_signature(Some(&other)), Err(PublicError::WrongKey { .. })));
        let mut batched = r.clone();
        batched.v = RECEIPT_VERSION;
        assert!(matches!(batched.verify_signature(None), Err(PublicError::BadReceipt(_))));
    }

    /// Pinned: a receipt handed out today verifies under every later version.
    #[test]
    fn a_version_2_receipt_is_pinned() {
        const PINNED: &str = r#"{"v":2,"sale":3,"seq":37,"at_us":1800000000012037,"hash":"abababababababababababababababababababababababababababababababab","by":99,"outcome":"0606060606060606060606060606060606060606060606060606060606060606","leaf":2,"leaves":3,"path":"EoZARYreogjp7r9D7ziN45Fzd_kbtMUJFz97UDuY9eE","key":"_RckOFqgx1tk-3jNYC-h2ZH96_drE8WO1wLqyDXp9hg","sig":"6kJtZgkEYdWiKNMR1SkO2AT3RKfqp9z_UeLlPxyFhxkmAWn-BVcZtbA3c-FdeTaNJ-6rvW-Xe6M_fUxOWiQtDQ"}"#;
        let key = SigningKey::from_bytes(&[9; 32]);
        let batch = Arc::new(ReceiptBatch::new((35..38).map(logged).collect()));
        let made = BatchPlace { batch, leaf: 2 }.receipt(&key).map(|r| serde_json::to_string(&r).unwrap_or_default());
        assert_eq!(made.as_deref(), Some(PINNED));
        let read = Receipt::parse(PINNED).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.verify_signature(None), Ok(logged(37)));
    }

    #[test]
    fn one_signature_serves_the_whole_batch() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let batch = Arc::new(ReceiptBatch::new((0..5).map(logged).collect()));
        let sigs: Vec<String> =
            (0..5).filter_map(|leaf| BatchPlace { batch: batch.clone(), leaf }.receipt(&key)).map(|r| r.sig).collect();
        assert_eq!(sigs.len(), 5);
        assert!(sigs.iter().all(|s| *s == sigs[0]));
        assert_eq!(BatchPlace { batch, leaf: 5 }.receipt(&key), None);
    }
}
