//! The platform ledger's record format: what one entry of log stream 0
//! ([`crate::ledger::LEDGER_STREAM`]) says. Like a sale's records these are
//! the engine's own versioned wire types, not the core's structs, so the
//! core's `ledger.rs` may reshape its types while a record written today
//! decodes the same way forever; conversions are at the edge of this module.
//!
//! A payload is `version (u8) · tag (u8) · body`, in the binary spelling of
//! sales' records ([`super::binary`]: LEB128 varints, `varint length · UTF-8`
//! text), with signed times as zigzag varints. The version numbers its own
//! line, started at [`LEDGER_RECORD_VERSION`] (16), apart from sales'
//! versions 1–4, so a payload read as the wrong kind of record is refused by
//! either decoder instead of being misread.
//!
//! - tag 0, `open`: the ledger's bounds ([`LimitsV1`]), the stream's first
//!   record and only there: replay must refuse for lack of room exactly where
//!   the live ledger did, whatever the defaults are by then.
//! - tag 1, `transfer`: id · body · outcome. The outcome is stored so an
//!   audit can prove the rules still give the same answer.
//! - tag 2, `tick`: nothing (a tick is logged only when it expired something).
//!
//! Codes, accounts, bodies, outcomes and rejections are tags into tables that
//! are only ever appended to. The test vectors at the end pin the bytes.

use stampede_core::{
    AccountId, LedgerInput, LedgerLimits, LedgerOutcome, LedgerRejection, Money, Movement, OrderRef, Transfer,
    TransferBody, TransferCode, TransferId, TransferRefs, UserId,
};

use super::RecordError;
use super::binary::{Reader, put_bytes, put_varint};

/// The first (and so far only) version of ledger records.
pub const LEDGER_RECORD_VERSION: u16 = 16;

const TAG_OPEN: u8 = 0;
const TAG_TRANSFER: u8 = 1;
const TAG_TICK: u8 = 2;

/// Transfer codes by their wire index; only appended to.
const CODES: [TransferCode; 9] = [
    TransferCode::TopUp,
    TransferCode::Grant,
    TransferCode::GatewayPayment,
    TransferCode::WalletPayment,
    TransferCode::Settlement,
    TransferCode::Fee,
    TransferCode::Refund,
    TransferCode::GatewayRefund,
    TransferCode::Payout,
];

/// One entry of the ledger stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerRecord {
    Open { v: u16, limits: LimitsV1 },
    Transfer { v: u16, id: String, body: BodyV1, out: LedgerOutcomeV1 },
    Tick { v: u16 },
}

/// The ledger's bounds as logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsV1 {
    pub accounts_max: u64,
    pub pending_max: u64,
    pub remembered_max: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountV1 {
    World,
    Clearing,
    Fees,
    Wallet(u64),
    Payable(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefsV1 {
    /// (sale, order number) of an [`OrderRef`].
    pub order: Option<(u64, u64)>,
    pub payment: Option<u64>,
    pub actor: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MovementV1 {
    pub debit: AccountV1,
    pub credit: AccountV1,
    pub amount: u64,
    /// Index into the code table.
    pub code: u8,
    pub refs: RefsV1,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyV1 {
    Single(MovementV1),
    Pending { movement: MovementV1, timeout_us: i64 },
    Post { pending: String, amount: Option<u64> },
    Void { pending: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerOutcomeV1 {
    Transferred,
    Reserved { expires_at_us: i64 },
    Posted { amount: u64, released: u64 },
    Voided { released: u64 },
    Ticked,
    Rejected(RejectionV1),
}

/// A refusal as logged: its wire tag and the one number some refusals carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectionV1 {
    pub tag: u8,
    /// `max_us` of a bad timeout (zigzag on the wire), the available funds,
    /// the pending amount, or the bound that was reached; 0 otherwise.
    pub value: i128,
}

// Rejection tags; only appended to. Which ones carry a value is fixed per tag.
const R_ID_REUSED: u8 = 0;
const R_ZERO_AMOUNT: u8 = 1;
const R_SAME_ACCOUNT: u8 = 2;
const R_CODE_NOT_ALLOWED: u8 = 3;
const R_BAD_TIMEOUT: u8 = 4;
const R_INSUFFICIENT_FUNDS: u8 = 5;
const R_OVERFLOW: u8 = 6;
const R_UNKNOWN_PENDING: u8 = 7;
const R_NOT_PENDING: u8 = 8;
const R_ALREADY_POSTED: u8 = 9;
const R_ALREADY_VOIDED: u8 = 10;
const R_PENDING_EXPIRED: u8 = 11;
const R_EXCEEDS_PENDING: u8 = 12;
const R_TOO_MANY_ACCOUNTS: u8 = 13;
const R_TOO_MANY_PENDING: u8 = 14;
const R_TOO_MANY_TRANSFERS: u8 = 15;
const R_LAST: u8 = R_TOO_MANY_TRANSFERS;

/// Whether a rejection tag carries a value, and whether it is signed.
fn rejection_value(tag: u8) -> Option<bool> {
    match tag {
        R_BAD_TIMEOUT => Some(true),
        R_INSUFFICIENT_FUNDS | R_EXCEEDS_PENDING | R_TOO_MANY_ACCOUNTS | R_TOO_MANY_PENDING | R_TOO_MANY_TRANSFERS => {
            Some(false)
        }
        _ => None,
    }
}

impl From<&LedgerRejection> for RejectionV1 {
    fn from(r: &LedgerRejection) -> Self {
        let (tag, value) = match r {
            LedgerRejection::IdReused => (R_ID_REUSED, 0),
            LedgerRejection::ZeroAmount => (R_ZERO_AMOUNT, 0),
            LedgerRejection::SameAccount => (R_SAME_ACCOUNT, 0),
            LedgerRejection::CodeNotAllowed => (R_CODE_NOT_ALLOWED, 0),
            LedgerRejection::BadTimeout { max_us } => (R_BAD_TIMEOUT, i128::from(*max_us)),
            LedgerRejection::InsufficientFunds { available } => (R_INSUFFICIENT_FUNDS, i128::from(available.minor())),
            LedgerRejection::Overflow => (R_OVERFLOW, 0),
            LedgerRejection::UnknownPending => (R_UNKNOWN_PENDING, 0),
            LedgerRejection::NotPending => (R_NOT_PENDING, 0),
            LedgerRejection::AlreadyPosted => (R_ALREADY_POSTED, 0),
            LedgerRejection::AlreadyVoided => (R_ALREADY_VOIDED, 0),
            LedgerRejection::PendingExpired => (R_PENDING_EXPIRED, 0),
            LedgerRejection::ExceedsPending { pending } => (R_EXCEEDS_PENDING, i128::from(pending.minor())),
            LedgerRejection::TooManyAccounts { max } => (R_TOO_MANY_ACCOUNTS, i128::from(*max)),
            LedgerRejection::TooManyPending { max } => (R_TOO_MANY_PENDING, i128::from(*max)),
            LedgerRejection::TooManyTransfers { max } => (R_TOO_MANY_TRANSFERS, i128::from(*max)),
        };
        RejectionV1 { tag, value }
    }
}

impl From<&LedgerOutcome> for LedgerOutcomeV1 {
    fn from(o: &LedgerOutcome) -> Self {
        match o {
            LedgerOutcome::Transferred => LedgerOutcomeV1::Transferred,
            LedgerOutcome::Reserved { expires_at_us } => LedgerOutcomeV1::Reserved { expires_at_us: *expires_at_us },
            LedgerOutcome::Posted { amount, released } => {
                LedgerOutcomeV1::Posted { amount: amount.minor(), released: released.minor() }
            }
            LedgerOutcome::Voided { released } => LedgerOutcomeV1::Voided { released: released.minor() },
            LedgerOutcome::Ticked => LedgerOutcomeV1::Ticked,
            LedgerOutcome::Rejected(r) => LedgerOutcomeV1::Rejected(r.into()),
        }
    }
}

impl From<AccountId> for AccountV1 {
    fn from(a: AccountId) -> Self {
        match a {
            AccountId::World => AccountV1::World,
            AccountId::Clearing => AccountV1::Clearing,
            AccountId::Fees => AccountV1::Fees,
            AccountId::Wallet(u) => AccountV1::Wallet(u.0),
            AccountId::Payable(u) => AccountV1::Payable(u.0),
        }
    }
}

impl From<AccountV1> for AccountId {
    fn from(a: AccountV1) -> Self {
        match a {
            AccountV1::World => AccountId::World,
            AccountV1::Clearing => AccountId::Clearing,
            AccountV1::Fees => AccountId::Fees,
            AccountV1::Wallet(u) => AccountId::Wallet(UserId(u)),
            AccountV1::Payable(u) => AccountId::Payable(UserId(u)),
        }
    }
}

fn code_index(code: TransferCode) -> u8 {
    // Every code is in the table (a test checks it), so the fallback is never taken.
    CODES.iter().position(|c| *c == code).map_or(u8::MAX, |i| i as u8)
}

impl From<&Movement> for MovementV1 {
    fn from(m: &Movement) -> Self {
        MovementV1 {
            debit: m.debit.into(),
            credit: m.credit.into(),
            amount: m.amount.minor(),
            code: code_index(m.code),
            refs: RefsV1 {
                order: m.refs.order.map(|o| (o.sale, o.order)),
                payment: m.refs.payment,
                actor: m.refs.actor.map(|u| u.0),
            },
        }
    }
}

impl TryFrom<MovementV1> for Movement {
    type Error = RecordError;
    fn try_from(m: MovementV1) -> Result<Self, RecordError> {
        let code = *CODES.get(usize::from(m.code)).ok_or(RecordError::Invalid("transfer code"))?;
        Ok(Movement {
            debit: m.debit.into(),
            credit: m.credit.into(),
            amount: Money::from_minor(m.amount),
            code,
            refs: TransferRefs {
                order: m.refs.order.map(|(sale, order)| OrderRef { sale, order }),
                payment: m.refs.payment,
                actor: m.refs.actor.map(UserId),
            },
        })
    }
}

fn transfer_id(text: &str) -> Result<TransferId, RecordError> {
    TransferId::parse(text).map_err(|_| RecordError::Invalid("transfer id"))
}

impl From<&TransferBody> for BodyV1 {
    fn from(b: &TransferBody) -> Self {
        match b {
            TransferBody::Single(m) => BodyV1::Single(m.into()),
            TransferBody::Pending { movement, timeout_us } => {
                BodyV1::Pending { movement: movement.into(), timeout_us: *timeout_us }
            }
            TransferBody::Post { pending, amount } => {
                BodyV1::Post { pending: pending.as_str().to_owned(), amount: amount.map(Money::minor) }
            }
            TransferBody::Void { pending } => BodyV1::Void { pending: pending.as_str().to_owned() },
        }
    }
}

impl TryFrom<&BodyV1> for TransferBody {
    type Error = RecordError;
    fn try_from(b: &BodyV1) -> Result<Self, RecordError> {
        Ok(match b {
            BodyV1::Single(m) => TransferBody::Single((*m).try_into()?),
            BodyV1::Pending { movement, timeout_us } => {
                TransferBody::Pending { movement: (*movement).try_into()?, timeout_us: *timeout_us }
            }
            BodyV1::Post { pending, amount } => {
                TransferBody::Post { pending: transfer_id(pending)?, amount: amount.map(Money::from_minor) }
            }
            BodyV1::Void { pending } => TransferBody::Void { pending: transfer_id(pending)? },
        })
    }
}

impl From<LedgerLimits> for LimitsV1 {
    fn from(l: LedgerLimits) -> Self {
        LimitsV1 {
            accounts_max: l.accounts_max as u64,
            pending_max: l.pending_max as u64,
            remembered_max: l.remembered_max as u64,
        }
    }
}

impl TryFrom<LimitsV1> for LedgerLimits {
    type Error = RecordError;
    fn try_from(l: LimitsV1) -> Result<Self, RecordError> {
        let size = |n: u64| usize::try_from(n).map_err(|_| RecordError::Invalid("ledger bound"));
        Ok(LedgerLimits {
            accounts_max: size(l.accounts_max)?,
            pending_max: size(l.pending_max)?,
            remembered_max: size(l.remembered_max)?,
        })
    }
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    put_bytes(out, text.as_bytes());
}

fn put_account(out: &mut Vec<u8>, a: AccountV1) {
    match a {
        AccountV1::World => out.push(0),
        AccountV1::Clearing => out.push(1),
        AccountV1::Fees => out.push(2),
        AccountV1::Wallet(u) => {
            out.push(3);
            put_varint(out, u);
        }
        AccountV1::Payable(u) => {
            out.push(4);
            put_varint(out, u);
        }
    }
}

const REF_ORDER: u8 = 1;
const REF_PAYMENT: u8 = 2;
const REF_ACTOR: u8 = 4;

fn put_movement(out: &mut Vec<u8>, m: &MovementV1) {
    put_account(out, m.debit);
    put_account(out, m.credit);
    put_varint(out, m.amount);
    out.push(m.code);
    let mut flags = 0;
    for (present, flag) in [
        (m.refs.order.is_some(), REF_ORDER),
        (m.refs.payment.is_some(), REF_PAYMENT),
        (m.refs.actor.is_some(), REF_ACTOR),
    ] {
        if present {
            flags |= flag;
        }
    }
    out.push(flags);
    if let Some((sale, order)) = m.refs.order {
        put_varint(out, sale);
        put_varint(out, order);
    }
    if let Some(p) = m.refs.payment {
        put_varint(out, p);
    }
    if let Some(a) = m.refs.actor {
        put_varint(out, a);
    }
}

fn put_body(out: &mut Vec<u8>, b: &BodyV1) {
    match b {
        BodyV1::Single(m) => {
            out.push(0);
            put_movement(out, m);
        }
        BodyV1::Pending { movement, timeout_us } => {
            out.push(1);
            put_movement(out, movement);
            put_varint(out, zigzag(*timeout_us));
        }
        BodyV1::Post { pending, amount } => {
            out.push(2);
            put_text(out, pending);
            match amount {
                None => out.push(0),
                Some(a) => {
                    out.push(1);
                    put_varint(out, *a);
                }
            }
        }
        BodyV1::Void { pending } => {
            out.push(3);
            put_text(out, pending);
        }
    }
}

fn put_outcome(out: &mut Vec<u8>, o: &LedgerOutcomeV1) {
    match o {
        LedgerOutcomeV1::Transferred => out.push(0),
        LedgerOutcomeV1::Reserved { expires_at_us } => {
            out.push(1);
            put_varint(out, zigzag(*expires_at_us));
        }
        LedgerOutcomeV1::Posted { amount, released } => {
            out.push(2);
            put_varint(out, *amount);
            put_varint(out, *released);
        }
        LedgerOutcomeV1::Voided { released } => {
            out.push(3);
            put_varint(out, *released);
        }
        LedgerOutcomeV1::Ticked => out.push(4),
        LedgerOutcomeV1::Rejected(r) => {
            out.push(5);
            out.push(r.tag);
            match rejection_value(r.tag) {
                // Built from an i64 by `From<&LedgerRejection>`.
                Some(true) => put_varint(out, zigzag(i64::try_from(r.value).unwrap_or(0))),
                Some(false) => put_varint(out, u64::try_from(r.value).unwrap_or(0)),
                None => {}
            }
        }
    }
}

impl Reader<'_> {
    fn account(&mut self) -> Result<AccountV1, RecordError> {
        Ok(match self.byte()? {
            0 => AccountV1::World,
            1 => AccountV1::Clearing,
            2 => AccountV1::Fees,
            3 => AccountV1::Wallet(self.varint()?),
            4 => AccountV1::Payable(self.varint()?),
            _ => return Err(RecordError::Invalid("account tag")),
        })
    }

    fn movement(&mut self) -> Result<MovementV1, RecordError> {
        let debit = self.account()?;
        let credit = self.account()?;
        let amount = self.varint()?;
        let code = self.byte()?;
        if usize::from(code) >= CODES.len() {
            return Err(RecordError::Invalid("transfer code"));
        }
        let flags = self.byte()?;
        if flags & !(REF_ORDER | REF_PAYMENT | REF_ACTOR) != 0 {
            return Err(RecordError::Invalid("reference flags"));
        }
        let order = if flags & REF_ORDER != 0 { Some((self.varint()?, self.varint()?)) } else { None };
        let payment = if flags & REF_PAYMENT != 0 { Some(self.varint()?) } else { None };
        let actor = if flags & REF_ACTOR != 0 { Some(self.varint()?) } else { None };
        Ok(MovementV1 { debit, credit, amount, code, refs: RefsV1 { order, payment, actor } })
    }

    fn body(&mut self) -> Result<BodyV1, RecordError> {
        Ok(match self.byte()? {
            0 => BodyV1::Single(self.movement()?),
            1 => {
                let movement = self.movement()?;
                BodyV1::Pending { movement, timeout_us: unzigzag(self.varint()?) }
            }
            2 => {
                let pending = self.text()?;
                let amount = match self.byte()? {
                    0 => None,
                    1 => Some(self.varint()?),
                    _ => return Err(RecordError::Invalid("post amount flag")),
                };
                BodyV1::Post { pending, amount }
            }
            3 => BodyV1::Void { pending: self.text()? },
            _ => return Err(RecordError::Invalid("transfer body tag")),
        })
    }

    fn ledger_outcome(&mut self) -> Result<LedgerOutcomeV1, RecordError> {
        Ok(match self.byte()? {
            0 => LedgerOutcomeV1::Transferred,
            1 => LedgerOutcomeV1::Reserved { expires_at_us: unzigzag(self.varint()?) },
            2 => LedgerOutcomeV1::Posted { amount: self.varint()?, released: self.varint()? },
            3 => LedgerOutcomeV1::Voided { released: self.varint()? },
            4 => LedgerOutcomeV1::Ticked,
            5 => {
                let tag = self.byte()?;
                if tag > R_LAST {
                    return Err(RecordError::Invalid("rejection tag"));
                }
                let value = match rejection_value(tag) {
                    Some(true) => i128::from(unzigzag(self.varint()?)),
                    Some(false) => i128::from(self.varint()?),
                    None => 0,
                };
                LedgerOutcomeV1::Rejected(RejectionV1 { tag, value })
            }
            _ => return Err(RecordError::Invalid("ledger outcome tag")),
        })
    }
}

impl LedgerRecord {
    /// The stream's first record: the bounds the ledger keeps for good.
    pub fn open(limits: LedgerLimits) -> Self {
        LedgerRecord::Open { v: LEDGER_RECORD_VERSION, limits: limits.into() }
    }

    /// A transfer's or tick's record, with the outcome the rules gave.
    pub fn from_input(input: &LedgerInput, outcome: &LedgerOutcome) -> Self {
        let v = LEDGER_RECORD_VERSION;
        match input {
            LedgerInput::Transfer { transfer, .. } => LedgerRecord::Transfer {
                v,
                id: transfer.id.as_str().to_owned(),
                body: (&transfer.body).into(),
                out: outcome.into(),
            },
            LedgerInput::Tick { .. } => LedgerRecord::Tick { v },
        }
    }

    pub fn version(&self) -> u16 {
        match self {
            LedgerRecord::Open { v, .. } | LedgerRecord::Transfer { v, .. } | LedgerRecord::Tick { v } => *v,
        }
    }

    /// The bounds of an `open` record.
    pub fn limits(&self) -> Result<Option<LedgerLimits>, RecordError> {
        match self {
            LedgerRecord::Open { limits, .. } => Ok(Some((*limits).try_into()?)),
            _ => Ok(None),
        }
    }

    /// The input this record replays as, stamped with the entry's time, and
    /// the outcome it recorded; `None` for `open`.
    pub fn to_input(&self, at_us: i64) -> Result<Option<(LedgerInput, Option<&LedgerOutcomeV1>)>, RecordError> {
        match self {
            LedgerRecord::Open { .. } => Ok(None),
            LedgerRecord::Tick { .. } => Ok(Some((LedgerInput::Tick { at_us }, None))),
            LedgerRecord::Transfer { id, body, out, .. } => {
                let transfer = Transfer { id: transfer_id(id)?, body: body.try_into()? };
                Ok(Some((LedgerInput::Transfer { at_us, transfer }, Some(out))))
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        // The version fits a byte; `decode` refuses any other.
        out.push(self.version() as u8);
        match self {
            LedgerRecord::Open { limits, .. } => {
                out.push(TAG_OPEN);
                put_varint(&mut out, limits.accounts_max);
                put_varint(&mut out, limits.pending_max);
                put_varint(&mut out, limits.remembered_max);
            }
            LedgerRecord::Transfer { id, body, out: outcome, .. } => {
                out.push(TAG_TRANSFER);
                put_text(&mut out, id);
                put_body(&mut out, body);
                put_outcome(&mut out, outcome);
            }
            LedgerRecord::Tick { .. } => out.push(TAG_TICK),
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader { bytes };
        let v = u16::from(r.byte()?);
        if v != LEDGER_RECORD_VERSION {
            return Err(RecordError::UnknownVersion(v));
        }
        let record = match r.byte()? {
            TAG_OPEN => LedgerRecord::Open {
                v,
                limits: LimitsV1 { accounts_max: r.varint()?, pending_max: r.varint()?, remembered_max: r.varint()? },
            },
            TAG_TRANSFER => {
                let id = r.text()?;
                let body = r.body()?;
                let out = r.ledger_outcome()?;
                LedgerRecord::Transfer { v, id, body, out }
            }
            TAG_TICK => LedgerRecord::Tick { v },
            _ => return Err(RecordError::Invalid("record tag")),
        };
        if !r.bytes.is_empty() {
            return Err(RecordError::Invalid("bytes after the record"));
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn id(s: &str) -> TransferId {
        TransferId::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn payment() -> Movement {
        Movement {
            debit: AccountId::Wallet(UserId(300)),
            credit: AccountId::Clearing,
            amount: Money::from_minor(55_000),
            code: TransferCode::WalletPayment,
            refs: TransferRefs { order: Some(OrderRef { sale: 2, order: 9 }), payment: Some(4), actor: None },
        }
    }

    fn round_trip(record: &LedgerRecord) {
        let bytes = record.encode();
        assert_eq!(&LedgerRecord::decode(&bytes).unwrap_or_else(|e| panic!("{e}")), record);
    }

    /// A wallet payment's hold, as the engine writes one. A change here is a
    /// change of the format: old ledgers would stop replaying.
    #[test]
    fn a_pending_wallet_payment_is_pinned() {
        let input = LedgerInput::Transfer {
            at_us: 0,
            transfer: Transfer { id: id("p:1"), body: TransferBody::Pending { movement: payment(), timeout_us: 600 } },
        };
        let record = LedgerRecord::from_input(&input, &LedgerOutcome::Reserved { expires_at_us: -1 });
        let want: &[u8] = &[
            16, 1, // version 16, transfer
            3, b'p', b':', b'1', // id
            1,    // pending
            3, 0xac, 0x02, // debit: wallet 300
            1,    // credit: clearing
            0xd8, 0xad, 0x03, // 55,000
            3,    // wallet payment
            3, 2, 9, 4, // refs: order (2, 9), payment 4
            0xb0, 0x09, // timeout 600, zigzag
            1, 1, // reserved until -1, zigzag
        ];
        assert_eq!(record.encode(), want);
        round_trip(&record);
        assert_eq!(
            LedgerRecord::open(LedgerLimits { accounts_max: 5, pending_max: 6, remembered_max: 300 }).encode(),
            [16, 0, 5, 6, 0xac, 0x02]
        );
        assert_eq!(LedgerRecord::Tick { v: 16 }.encode(), [16, 2]);
    }

    #[test]
    fn every_shape_round_trips_to_the_same_core_values() {
        let bodies = [
            TransferBody::Single(Movement { refs: TransferRefs::default(), ..payment() }),
            TransferBody::Single(Movement {
                debit: AccountId::World,
                credit: AccountId::Wallet(UserId(u64::MAX)),
                code: TransferCode::Grant,
                refs: TransferRefs { order: None, payment: None, actor: Some(UserId(1)) },
                ..payment()
            }),
            TransferBody::Pending { movement: payment(), timeout_us: i64::MIN },
            TransferBody::Post { pending: id("p:1"), amount: None },
            TransferBody::Post { pending: id("p:1"), amount: Some(Money::from_minor(0)) },
            TransferBody::Void { pending: id("p:1") },
        ];
        let outcomes = [
            LedgerOutcome::Transferred,
            LedgerOutcome::Reserved { expires_at_us: i64::MAX },
            LedgerOutcome::Posted { amount: Money::from_minor(1), released: Money::from_minor(u64::MAX) },
            LedgerOutcome::Voided { released: Money::from_minor(3) },
            LedgerOutcome::Rejected(LedgerRejection::IdReused),
            LedgerOutcome::Rejected(LedgerRejection::BadTimeout { max_us: -5 }),
            LedgerOutcome::Rejected(LedgerRejection::InsufficientFunds { available: Money::from_minor(7) }),
            LedgerOutcome::Rejected(LedgerRejection::ExceedsPending { pending: Money::from_minor(8) }),
            LedgerOutcome::Rejected(LedgerRejection::TooManyAccounts { max: 1 }),
            LedgerOutcome::Rejected(LedgerRejection::TooManyPending { max: 2 }),
            LedgerOutcome::Rejected(LedgerRejection::TooManyTransfers { max: u64::MAX }),
            LedgerOutcome::Rejected(LedgerRejection::PendingExpired),
        ];
        for body in &bodies {
            for outcome in &outcomes {
                let input =
                    LedgerInput::Transfer { at_us: 9, transfer: Transfer { id: id("t-1"), body: body.clone() } };
                let record = LedgerRecord::from_input(&input, outcome);
                round_trip(&record);
                let Ok(Some((back, Some(out)))) = record.to_input(9) else { panic!("a transfer replays") };
                assert_eq!(back, input);
                assert_eq!(out, &LedgerOutcomeV1::from(outcome));
            }
        }
        for code in CODES {
            assert_eq!(CODES[usize::from(code_index(code))], code);
        }
    }

    #[test]
    fn damaged_or_misrouted_payloads_are_refused() {
        let input = LedgerInput::Transfer {
            at_us: 0,
            transfer: Transfer { id: id("p:1"), body: TransferBody::Single(payment()) },
        };
        let bytes = LedgerRecord::from_input(&input, &LedgerOutcome::Transferred).encode();
        for cut in 0..bytes.len() {
            assert!(LedgerRecord::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(LedgerRecord::decode(&longer).is_err());
        // A sale's record is not a ledger record, nor the other way round.
        assert!(matches!(LedgerRecord::decode(&[3, 2]), Err(RecordError::UnknownVersion(3))));
        assert!(matches!(Record::decode(&bytes), Err(RecordError::UnknownVersion(16))));
        let mut bad_code = bytes.clone();
        bad_code[14] = 200; // the code byte of the movement
        assert!(LedgerRecord::decode(&bad_code).is_err());
    }
}
