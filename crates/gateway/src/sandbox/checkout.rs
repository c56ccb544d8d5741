//! The hosted checkout page: Toss Payments' redirect flow in miniature.
//!
//! The merchant sends the buyer to `GET /checkout` with `orderId`, `amount`,
//! `orderName`, `successUrl` and `failUrl`. The page (Korean and English,
//! server-rendered, no script) offers "approve" and "decline". Approving
//! creates a `READY` payment and redirects (303) to
//! `successUrl?paymentKey=…&orderId=…&amount=…&paymentType=NORMAL`; the
//! merchant must then confirm it through the API. Declining redirects to
//! `failUrl?code=PAY_PROCESS_CANCELED&message=…&orderId=…`.

use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{Sandbox, now_us};

/// Longest URL accepted for a redirect.
const URL_LEN_MAX: usize = 2048;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckoutIn {
    order_id: String,
    amount: u64,
    #[serde(default)]
    order_name: String,
    success_url: String,
    fail_url: String,
}

fn valid_url(url: &str) -> bool {
    url.len() <= URL_LEN_MAX
        && (url.starts_with("http://") || url.starts_with("https://"))
        && !url.contains(['#', '\r', '\n', ' ', '"', '<', '>'])
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

use crate::client::with_query;

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_owned())]).into_response()
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Html(format!("<!doctype html><meta charset=utf-8><p>{}</p>", escape(message))))
        .into_response()
}

/// The refusal of a checkout whose redirect URLs are unusable.
fn check(input: &CheckoutIn) -> Option<Response> {
    if !valid_url(&input.success_url) || !valid_url(&input.fail_url) {
        return Some(bad("successUrl and failUrl must be http(s) URLs without a fragment"));
    }
    None
}

pub(crate) async fn page(State(sandbox): State<Sandbox>, Query(input): Query<CheckoutIn>) -> Response {
    if let Err(answer) = sandbox.gate().await {
        return answer;
    }
    if let Some(answer) = check(&input) {
        return answer;
    }
    let hidden = |name: &str, value: &str| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape(value));
    let fields = [
        hidden("orderId", &input.order_id),
        hidden("amount", &input.amount.to_string()),
        hidden("orderName", &input.order_name),
        hidden("successUrl", &input.success_url),
        hidden("failUrl", &input.fail_url),
    ]
    .concat();
    let name = escape(&input.order_name);
    let order = escape(&input.order_id);
    let amount = input.amount;
    Html(format!(
        r#"<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>샌드박스 결제 · Sandbox checkout</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 2rem auto; padding: 0 1rem; }}
.amount {{ font-size: 1.6rem; font-weight: 700; }}
form {{ display: inline-block; margin: .5rem .5rem 0 0; }}
button {{ font-size: 1rem; padding: .7rem 1.2rem; border-radius: .4rem; border: 1px solid #888; }}
#approve {{ background: #0064ff; color: #fff; border-color: #0064ff; }}
.note {{ color: #555; font-size: .85rem; }}
</style>
</head>
<body>
<h1>샌드박스 결제 <span lang="en">/ Sandbox checkout</span></h1>
<p>{name}</p>
<p class="amount" id="amount">{amount}원 <span lang="en">(KRW {amount})</span></p>
<p class="note">주문번호 <span lang="en">Order</span>: <code id="order">{order}</code></p>
<form method="post" action="/checkout/approve">{fields}<button id="approve" type="submit">결제 승인 <span lang="en">/ Approve</span></button></form>
<form method="post" action="/checkout/decline">{fields}<button id="decline" type="submit">결제 거절 <span lang="en">/ Decline</span></button></form>
<p class="note">실제 돈은 오가지 않습니다. <span lang="en">No real money moves: this is a test gateway.</span></p>
</body>
</html>
"#
    ))
    .into_response()
}

pub(crate) async fn approve(State(sandbox): State<Sandbox>, Form(input): Form<CheckoutIn>) -> Response {
    if let Err(answer) = sandbox.gate().await {
        return answer;
    }
    if let Some(answer) = check(&input) {
        return answer;
    }
    let step = {
        let mut books = sandbox.inner.books.lock();
        let key = sandbox.inner.faults.payment_key(&input.order_id, books.payments.checkouts_of(&input.order_id));
        books.payments.checkout(key, &input.order_id, &input.order_name, input.amount, now_us())
    };
    sandbox.send_changes(step.changed);
    match step.answer {
        Ok(payment) => see_other(&with_query(
            &input.success_url,
            &[
                ("paymentKey", &payment.payment_key),
                ("orderId", &payment.order_id),
                ("amount", &payment.total_amount.to_string()),
                ("paymentType", "NORMAL"),
            ],
        )),
        Err(refusal) => see_other(&with_query(
            &input.fail_url,
            &[("code", refusal.code), ("message", &refusal.message), ("orderId", &input.order_id)],
        )),
    }
}

pub(crate) async fn decline(State(sandbox): State<Sandbox>, Form(input): Form<CheckoutIn>) -> Response {
    if let Err(answer) = sandbox.gate().await {
        return answer;
    }
    if let Some(answer) = check(&input) {
        return answer;
    }
    see_other(&with_query(
        &input.fail_url,
        &[
            ("code", "PAY_PROCESS_CANCELED"),
            ("message", "구매자가 결제를 취소했습니다 (the buyer declined)"),
            ("orderId", &input.order_id),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_carry_encoded_values() {
        assert_eq!(with_query("http://m/ok", &[("a", "1"), ("b", "x y&z")]), "http://m/ok?a=1&b=x%20y%26z");
        assert_eq!(with_query("http://m/ok?s=1", &[("a", "가")]), "http://m/ok?s=1&a=%EA%B0%80");
        assert_eq!(escape(r#"<a href="x">'&"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;");
        assert!(valid_url("https://m.example/ok?x=1"));
        assert!(!valid_url("javascript:alert(1)"));
        assert!(!valid_url("http://m/ok#frag"));
    }
}
