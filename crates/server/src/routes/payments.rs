//! Card payments through the external gateway: where the gateway sends the
//! buyer back (success, failure), the same completion as JSON for API
//! clients, and the gateway's webhooks. The saga is in
//! `routes/common/gateway_pay.rs`; these only read the request and answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use stampede_core::OrderRef;
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::problem::{ApiError, Problem};
use crate::routes::common::gateway_pay::{self, Completed};

/// The payment the buyer approved, as the gateway hands it back.
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct GatewayReturn {
    pub payment_key: String,
    pub order_id: String,
    pub amount: u64,
}

/// How a card payment ended.
#[derive(Serialize, ToSchema)]
pub struct CardPaymentOut {
    pub sale_id: u64,
    pub order_id: u64,
    pub reference: String,
    /// `paid`, `declined`, `refunded` (captured after the hold ran out, and
    /// given back) or `pending` (the gateway could not say yet; checked again shortly).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn out(c: &Completed) -> CardPaymentOut {
    let (sale, order, status, message) = match c {
        Completed::Paid { sale, order, .. } => (*sale, *order, "paid", None),
        Completed::Declined { sale, order, message } => (*sale, *order, "declined", Some(message.clone())),
        Completed::Refunded { sale, order } => (*sale, *order, "refunded", None),
        Completed::Unsettled { sale, order } => (*sale, *order, "pending", None),
    };
    CardPaymentOut {
        sale_id: sale,
        order_id: order,
        reference: OrderRef::new(sale, order).to_string(),
        status,
        message,
    }
}

const FIELD_LEN_MAX: usize = 200;

fn check(r: &GatewayReturn) -> Result<(), ApiError> {
    if r.payment_key.is_empty() || r.payment_key.len() > FIELD_LEN_MAX || r.order_id.len() > FIELD_LEN_MAX {
        return Err(ApiError::invalid_field(format!("paymentKey and orderId are 1 to {FIELD_LEN_MAX} characters")));
    }
    Ok(())
}

/// Completes a card payment the buyer approved at the gateway (what the
/// gateway's success redirect does, for clients that are not browsers).
#[utoipa::path(post, path = "/api/payments/gateway/confirm", tag = "wallet", request_body = GatewayReturn,
    responses((status = 200, body = CardPaymentOut), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 502, body = Problem)))]
pub async fn confirm(
    State(state): State<AppState>,
    _auth: Auth,
    ApiJson(body): ApiJson<GatewayReturn>,
) -> Result<Json<CardPaymentOut>, ApiError> {
    check(&body)?;
    let done = gateway_pay::complete(&state, &body.payment_key, &body.order_id, body.amount).await?;
    Ok(Json(out(&done)))
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

fn sale_page(sale: u64, payment: &str) -> String {
    format!("/sales/{sale}?payment={payment}")
}

/// Where the gateway sends the buyer after approving: complete, then show
/// the sale page with how it went (paid orders also show on my page).
pub async fn success(State(state): State<AppState>, ApiQuery(q): ApiQuery<GatewayReturn>) -> Response {
    if check(&q).is_err() {
        return see_other("/me?payment=error");
    }
    match gateway_pay::complete(&state, &q.payment_key, &q.order_id, q.amount).await {
        Ok(done) => {
            let o = out(&done);
            see_other(&sale_page(o.sale_id, o.status))
        }
        Err(e) => {
            tracing::warn!(problem = e.slug, "a card payment's return failed");
            see_other("/me?payment=error")
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct GatewayFail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub order_id: String,
}

/// Where the gateway sends the buyer after declining or giving up.
pub async fn fail(State(state): State<AppState>, ApiQuery(q): ApiQuery<GatewayFail>) -> Response {
    if q.order_id.len() > FIELD_LEN_MAX || q.code.len() > FIELD_LEN_MAX || q.message.len() > 2 * FIELD_LEN_MAX {
        return see_other("/me?payment=error");
    }
    match gateway_pay::fail(&state, &q.order_id).await {
        Ok(Some((sale, _))) => see_other(&sale_page(sale, "declined")),
        _ => see_other("/me?payment=error"),
    }
}

/// The gateway's webhooks: checked (HMAC), deduplicated by the payment's
/// version, and acted on through the same completion as the return: a
/// captured payment confirms its hold (or is given back), a failed one
/// voids its attempt. Always 200 once the signature checks, so the gateway
/// stops retrying; a failure is finished by the poll.
pub async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<StatusCode, ApiError> {
    let Some(link) = state.gateway.as_deref() else {
        return Err(ApiError::not_found("no payment gateway is configured"));
    };
    let event = match link.webhooks.verify(&headers, &body, state.engine.now_us()) {
        Ok(e) => e,
        Err(stampede_gateway::WebhookError::UnsupportedEvent(_)) => return Ok(StatusCode::OK),
        Err(e) => {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "bad-webhook", "Webhook refused", e.to_string()));
        }
    };
    let p = &event.data;
    if !link.fresh(&p.payment_key, p.version) {
        return Ok(StatusCode::OK);
    }
    let result = if p.status.is_captured() {
        gateway_pay::complete(&state, &p.payment_key, &p.order_id, p.total_amount).await.map(|_| ())
    } else if p.status.is_final() {
        gateway_pay::fail(&state, &p.order_id).await.map(|_| ())
    } else {
        Ok(())
    };
    if let Err(e) = result {
        tracing::warn!(problem = e.slug, "a webhook could not be acted on; the poll will");
    }
    Ok(StatusCode::OK)
}
