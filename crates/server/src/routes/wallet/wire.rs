//! What the wallet routes read and answer: the balance and statement of
//! one's own wallet, an admin's grant, and a payment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/me/wallet`.
#[derive(Serialize, ToSchema)]
pub struct WalletOut {
    /// Always `KRW`: the wallet holds one currency.
    pub currency: &'static str,
    /// Posted money on the wallet, in the currency's minor unit.
    pub balance: u64,
    /// What may be spent now: the balance less what pending payments reserve.
    pub available: u64,
    /// Reserved by payments in progress.
    pub pending: u64,
    /// Transfers touching the wallet, newest first, at most
    /// [`crate::routes::wallet::STATEMENT_LEN`]; transfers are remembered a
    /// day after they were last touched.
    pub statement: Vec<StatementLineOut>,
}

/// One line of a wallet's statement.
#[derive(Serialize, ToSchema)]
pub struct StatementLineOut {
    /// The transfer's id (`grant:…`, `pay:{sale}:{hold}`, `refund:{sale}:{order}[:{seat}]`).
    pub id: String,
    /// Why money moved: `grant`, `top-up`, `wallet-payment`, `refund`, ….
    pub kind: &'static str,
    /// Signed, in the minor unit: money in is positive, out negative. For a
    /// payment posted in part, what was taken.
    pub amount: i64,
    /// `done` (a single transfer), `pending`, `posted`, `voided` or `expired`.
    pub state: &'static str,
    /// The order it is about (reference, e.g. `K7M-4QX2`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// When it was made, or for a pending one that ended, when it ended (RFC 3339).
    pub at: String,
    pub at_us: i64,
}

/// `POST /api/admin/wallets/{user}/grant`.
#[derive(Deserialize, ToSchema)]
pub struct GrantRequest {
    /// In the minor unit (won), 1 to [`crate::routes::wallet::GRANT_MAX`].
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub amount: i64,
    /// Why, for the operator's log (the ledger itself carries no text); at
    /// most [`crate::routes::wallet::GRANT_NOTE_LEN_MAX`] characters.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub note: Option<String>,
}

/// A grant as made (or, for a repeated Idempotency-Key, as first made).
#[derive(Serialize, ToSchema)]
pub struct GrantOut {
    /// The ledger transfer's id.
    pub id: String,
    pub user_id: u64,
    pub amount: u64,
    /// The wallet's balance after it, as of now.
    pub balance: u64,
}

/// `POST /api/sales/{id}/holds/{hold}/pay`.
#[derive(Deserialize, ToSchema)]
pub struct PayRequest {
    pub provider: PayProvider,
}

/// Who pays: the buyer's wallet, or a card through the payment gateway.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayProvider {
    Wallet,
    /// A card through the payment gateway: the answer is where to send the buyer.
    Gateway,
}

/// A paid order.
#[derive(Serialize, ToSchema)]
pub struct PaymentOut {
    pub sale_id: u64,
    /// The order's number (the hold's).
    pub order_id: u64,
    /// Unique across the platform, e.g. `K7M-4QX2`: see `GET /api/orders/{reference}`.
    pub reference: String,
    pub provider: &'static str,
    /// `paid`.
    pub status: &'static str,
    /// What was taken from the wallet.
    pub amount: u64,
    pub currency: &'static str,
    /// The wallet's available money after it.
    pub available: u64,
    /// A card payment: the gateway's checkout page to send the buyer to
    /// (`status` is then `redirect`, and nothing is paid yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}
