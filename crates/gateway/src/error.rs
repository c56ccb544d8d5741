//! What can go wrong when calling the gateway, sorted by what the caller
//! should do next: give up (a decline), try again later with the same
//! idempotency key (an outage, a timeout), or fix the request.

use std::time::Duration;

/// The error codes with which the gateway declines a payment. A decline is
/// final for this payment: the buyer must pay again (a new checkout).
const DECLINE_CODES: &[&str] = &[
    "REJECT_CARD_PAYMENT",
    "REJECT_CARD_COMPANY",
    "REJECT_ACCOUNT_PAYMENT",
    "EXCEED_MAX_DAILY_PAYMENT_COUNT",
    "EXCEED_MAX_PAYMENT_AMOUNT",
    "EXCEED_MAX_AMOUNT",
    "NOT_AVAILABLE_PAYMENT",
    "INVALID_CARD_NUMBER",
    "INVALID_STOPPED_CARD",
    "INVALID_CARD_EXPIRATION",
    "INVALID_REJECT_CARD",
    "INVALID_CARD_LOST_OR_STOLEN",
    "NOT_SUPPORTED_CARD_TYPE",
];

/// The codes that mean "not now" even on a 4xx answer.
const RETRY_CODES: &[&str] = &["IDEMPOTENT_REQUEST_PROCESSING", "PROVIDER_ERROR", "FAILED_INTERNAL_SYSTEM_PROCESSING"];

/// What the caller should do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The payment was declined; final.
    Declined,
    /// The gateway could not answer now; retry later with the same idempotency key.
    Retry,
    /// The gateway does not know the payment.
    NotFound,
    /// The request is wrong (or the payment is in a state that refuses it); retrying it unchanged will not help.
    BadRequest,
    /// The secret key was refused, or the adapter is misconfigured.
    Config,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The gateway (or the card company behind it) declined the payment.
    #[error("payment declined: {code}: {message}")]
    Declined { code: String, message: String },
    /// The gateway is down, overloaded or the connection broke: the request
    /// may or may not have been carried out, so retry it with the same key.
    #[error("the gateway is unavailable: {reason}")]
    Unavailable { reason: String, retry_after: Option<Duration> },
    /// No answer within the adapter's time limit; as ambiguous as `Unavailable`.
    #[error("no answer from the gateway within {0:?}")]
    Timeout(Duration),
    /// The gateway does not know the payment (or order) asked for.
    #[error("not found: {code}: {message}")]
    NotFound { code: String, message: String },
    /// The gateway refused the request as it is (HTTP 4xx), for example a
    /// wrong amount, a payment already confirmed, or a refund over the balance.
    #[error("the gateway refused the request ({status}): {code}: {message}")]
    Rejected { status: u16, code: String, message: String },
    /// The gateway refused the secret key.
    #[error("the gateway refused the secret key: {code}: {message}")]
    Unauthorized { code: String, message: String },
    /// The answer could not be read (not the gateway's JSON).
    #[error("unreadable answer from the gateway ({status}): {reason}")]
    Protocol { status: u16, reason: String },
    /// The adapter's configuration or a call's arguments cannot make a request.
    #[error("cannot call the gateway: {0}")]
    Config(String),
}

impl GatewayError {
    /// What to do about it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GatewayError::Declined { .. } => ErrorKind::Declined,
            GatewayError::Unavailable { .. } | GatewayError::Timeout(_) => ErrorKind::Retry,
            // A garbled answer (a proxy's error page, a cut body) says nothing
            // about the payment: ask again.
            GatewayError::Protocol { .. } => ErrorKind::Retry,
            GatewayError::NotFound { .. } => ErrorKind::NotFound,
            GatewayError::Rejected { .. } => ErrorKind::BadRequest,
            GatewayError::Unauthorized { .. } | GatewayError::Config(_) => ErrorKind::Config,
        }
    }

    /// Whether the same call, with the same idempotency key, may succeed later.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Retry
    }

    /// The gateway's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            GatewayError::Declined { code, .. }
            | GatewayError::NotFound { code, .. }
            | GatewayError::Rejected { code, .. }
            | GatewayError::Unauthorized { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Sorts an error answer by its status and the gateway's code.
    pub(crate) fn from_answer(status: u16, code: String, message: String, retry_after: Option<Duration>) -> Self {
        if DECLINE_CODES.contains(&code.as_str()) {
            return GatewayError::Declined { code, message };
        }
        if status >= 500 || status == 429 || RETRY_CODES.contains(&code.as_str()) {
            return GatewayError::Unavailable { reason: format!("{status} {code}: {message}"), retry_after };
        }
        match status {
            401 | 403 if code.contains("UNAUTHORIZED") || code.contains("FORBIDDEN") => {
                GatewayError::Unauthorized { code, message }
            }
            404 => GatewayError::NotFound { code, message },
            _ => GatewayError::Rejected { status, code, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sorted_by_what_to_do_next() {
        let kind = |status, code: &str| GatewayError::from_answer(status, code.into(), String::new(), None).kind();
        assert_eq!(kind(403, "REJECT_CARD_PAYMENT"), ErrorKind::Declined);
        assert_eq!(kind(400, "EXCEED_MAX_AMOUNT"), ErrorKind::Declined);
        assert_eq!(kind(503, "PROVIDER_ERROR"), ErrorKind::Retry);
        assert_eq!(kind(500, "ANYTHING"), ErrorKind::Retry);
        assert_eq!(kind(429, "TOO_MANY_REQUESTS"), ErrorKind::Retry);
        assert_eq!(kind(409, "IDEMPOTENT_REQUEST_PROCESSING"), ErrorKind::Retry);
        assert_eq!(kind(404, "NOT_FOUND_PAYMENT"), ErrorKind::NotFound);
        assert_eq!(kind(401, "UNAUTHORIZED_KEY"), ErrorKind::Config);
        assert_eq!(kind(400, "ALREADY_PROCESSED_PAYMENT"), ErrorKind::BadRequest);
        assert_eq!(kind(400, "NOT_CANCELABLE_AMOUNT"), ErrorKind::BadRequest);
        assert!(GatewayError::Timeout(Duration::from_secs(1)).is_retryable());
    }
}
