//! The payment as the gateway shows it on the wire (Toss Payments' `Payment`
//! object, the fields Stampede needs) and the gateway's error body.
//!
//! These are wire types: field names are the gateway's (camelCase), times are
//! the gateway's ISO 8601 strings. `version` is the sandbox's addition: it
//! grows by one with every change of the payment, so a receiver can drop a
//! webhook older than what it already knows (a real gateway offers
//! `approvedAt` and the cancels' `canceledAt` for the same purpose).

use serde::{Deserialize, Serialize};

/// Where a payment is in its life, in the gateway's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// The buyer authorised it on the checkout page; the merchant has not confirmed it yet.
    Ready,
    /// Being processed (a real gateway's intermediate state; the sandbox never shows it).
    InProgress,
    /// A virtual-account payment waiting for the transfer (not used by the sandbox).
    WaitingForDeposit,
    /// Confirmed: the money is captured.
    Done,
    /// Refunded in full.
    Canceled,
    /// Refunded in part; `balance_amount` is what is still captured.
    PartialCanceled,
    /// The confirmation failed (declined by the card company): no money moved.
    Aborted,
    /// Not confirmed within the confirmation window: no money moved.
    Expired,
    /// A status this adapter does not know (a newer API version).
    #[serde(other)]
    Unknown,
}

impl PaymentStatus {
    /// The gateway's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Ready => "READY",
            PaymentStatus::InProgress => "IN_PROGRESS",
            PaymentStatus::WaitingForDeposit => "WAITING_FOR_DEPOSIT",
            PaymentStatus::Done => "DONE",
            PaymentStatus::Canceled => "CANCELED",
            PaymentStatus::PartialCanceled => "PARTIAL_CANCELED",
            PaymentStatus::Aborted => "ABORTED",
            PaymentStatus::Expired => "EXPIRED",
            PaymentStatus::Unknown => "UNKNOWN",
        }
    }

    /// Whether money is captured (in full or in part) in this status.
    pub fn is_captured(self) -> bool {
        matches!(self, PaymentStatus::Done | PaymentStatus::PartialCanceled)
    }

    /// Whether nothing can change any more.
    pub fn is_final(self) -> bool {
        matches!(self, PaymentStatus::Canceled | PaymentStatus::Aborted | PaymentStatus::Expired)
    }
}

/// One refund of a payment (Toss: an entry of `cancels`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancel {
    pub cancel_amount: u64,
    pub cancel_reason: String,
    pub canceled_at: String,
    /// The gateway's id of this refund.
    pub transaction_key: String,
}

/// Why a payment was aborted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

/// A payment as the gateway reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// The gateway's id of the payment, given to the buyer's browser on the
    /// success redirect.
    pub payment_key: String,
    /// The merchant's id of the order, as the checkout was opened with.
    pub order_id: String,
    #[serde(default)]
    pub order_name: String,
    pub status: PaymentStatus,
    /// The amount authorised and (once `DONE`) captured.
    pub total_amount: u64,
    /// What is still captured: `total_amount` less every cancel.
    pub balance_amount: u64,
    #[serde(default)]
    pub currency: String,
    pub requested_at: String,
    #[serde(default)]
    pub approved_at: Option<String>,
    /// Grows by one with every change; see the module's doc.
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub cancels: Vec<Cancel>,
    #[serde(default)]
    pub failure: Option<Failure>,
}

/// The gateway's error answer: `{"code": "...", "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}
