//! An external payment gateway, in the shape of a Korean one (Toss Payments is
//! the model), and a sandbox that stands in for it.
//!
//! - [`Gateway`] is the adapter a merchant server calls: confirm a payment the
//!   buyer authorised on the hosted checkout page, read its status, cancel it
//!   in full or in part. Every mutating call carries an `Idempotency-Key`;
//!   errors tell a decline (final) from an outage or a timeout (retry later
//!   with the same key) from a bad request ([`GatewayError::kind`]).
//! - [`webhook`] verifies the gateway's signed webhooks (HMAC-SHA256 over the
//!   raw body and a transmission time, with a replay window) and says whether
//!   an event is new, a duplicate or a stale reorder ([`Freshness`]).
//! - [`sandbox`] is the gateway itself, in memory: checkout page, API, signed
//!   webhooks with retries, and seeded fault injection (declines, duplicated
//!   and reordered webhooks, outages, latency).
//!
//! The crate knows nothing of sales, orders or the ledger: amounts are plain
//! integers in the smallest unit of the currency (won), identifiers strings.

mod client;
mod error;
mod http;
mod payment;
pub mod sandbox;
pub mod webhook;

pub use client::{Gateway, GatewayConfig, IdempotencyKey, checkout_url};
pub use error::{ErrorKind, GatewayError};
pub use payment::{Cancel, ErrorBody, Failure, Payment, PaymentStatus};
pub use webhook::{Freshness, WebhookError, WebhookEvent, WebhookVerifier};
