//! The OpenAPI document, assembled from the handlers' annotations and then
//! completed by the conventions every route follows ([`document`]).
//!
//! A handler's `#[utoipa::path]` names what is particular to it: its body,
//! its success answer, and the problems its own logic gives (`403` for
//! someone else's sale, `409` for a sale in the wrong state or of the wrong
//! kind, `422` for a field out of bounds...). What the shared extractors
//! answer is added here, by rule, so no route can forget it:
//!
//! - every problem answer is `application/problem+json` ([`Problem`]);
//! - a route that is not in [`PUBLIC`] needs a bearer token or a session
//!   cookie: `401`, and for a change made with a cookie, `403` without the
//!   CSRF header (`Auth`);
//! - a route with a JSON body answers `400` to a body that is not JSON or
//!   not of the declared shape and `413` to one over the limit (`ApiJson`);
//! - a route with an id in its path answers `404` to an id that names
//!   nothing (`ApiPath`, `parse_id`);
//! - a route with query parameters answers `422` to one that is not a
//!   number or out of its range (`ApiQuery`);
//! - every change to a sale (`POST`, `PUT`, `DELETE` under
//!   `/api/sales/{id}/`) takes an `idempotency-key` header, answers `400`
//!   to a malformed one (`IdemKey`) and `422` to one used before for
//!   another command;
//! - such a change's answers (success, and the refusals the sale logs) carry
//!   the command's signed receipt in the `stampede-receipt` header
//!   ([`ReceiptOut`](crate::routes::log::wire::ReceiptOut));
//! - a WebSocket route answers `400` to a request that is not an upgrade;
//! - every route that reaches the sale engine answers `503` with
//!   `Retry-After` when a sale's mailbox is full or the log cannot be
//!   written, and so do the routes that hash a password when too many wait;
//!   every other route but the health checks, the admin's statistics and `/metrics`
//!   answers `503` with `Retry-After` when the server already answers as
//!   many requests as it takes (`edge.rs`).
//!
//! `scripts/schemathesis.sh` fuzzes the running server against this document
//! with every check schemathesis has; it is part of `.ci/run`.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::extract::{CSRF_HEADER, PASS_HEADER, SESSION_COOKIE};
use crate::problem::Problem;
use crate::problem::RECEIPT_HEADER;
use crate::routes::accounts::wire::*;
use crate::routes::common::present::*;
use crate::routes::common::wire::*;
use crate::routes::friends::wire::*;
use crate::routes::log::wire::*;
use crate::routes::queue::wire::*;
use crate::routes::sales::wire::*;
use crate::routes::seats::wire::*;
use crate::routes::system::wire::*;
use crate::routes::venues::wire::*;
use crate::routes::wallet::wire::*;
use crate::routes::{accounts, friends, live, log, queue, sales, seats, system, tickets, venues, wallet};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stampede",
        description = "Fast, fair ticketing and flash sales. Errors are application/problem+json; see docs/API.md."
    ),
    paths(
        system::healthz,
        system::readyz,
        system::metrics,
        system::ping,
        openapi,
        accounts::signup,
        accounts::login,
        accounts::logout,
        accounts::create_token,
        accounts::list_tokens,
        accounts::revoke_token,
        accounts::me,
        accounts::update_me,
        accounts::admin_create_user,
        accounts::admin_bulk_users,
        accounts::admin_set_role,
        sales::create_sale,
        sales::list_sales,
        sales::get_sale,
        sales::edit_sale,
        sales::delete_sale,
        sales::order_by_reference,
        sales::open_sale,
        sales::close_sale,
        sales::reserve,
        sales::confirm,
        sales::cancel,
        sales::refund,
        sales::click,
        sales::leaderboard,
        sales::sale_holds,
        sales::results,
        sales::sale_stats,
        sales::my_holds,
        sales::my_orders,
        queue::join,
        queue::me,
        queue::status,
        queue::watch,
        queue::set_pow,
        queue::pass_key,
        live::watch,
        log::download,
        log::me,
        log::receipt_key,
        system::admin_stats,
        friends::list_friends,
        friends::send_request,
        friends::accept,
        friends::decline,
        friends::remove,
        seats::venue,
        seats::seat_map,
        seats::watch,
        seats::hold,
        seats::confirm,
        seats::cancel,
        seats::refund,
        seats::release,
        seats::swap,
        seats::my_seats,
        venues::create_venue,
        venues::list_venues,
        venues::export_venue,
        venues::delete_venue,
        wallet::my_wallet,
        wallet::grant,
        wallet::pay,
        tickets::my_tickets,
        tickets::ticket,
        tickets::transfer,
        tickets::gate_kit,
        tickets::checkin,
        tickets::checkin_sync,
        tickets::checkin_progress,
    ),
    components(schemas(
        Problem,
        UserOut,
        SessionOut,
        TokenOut,
        TokensOut,
        TokenInfoOut,
        SaleOut,
        SaleStatsOut,
        HoldOut,
        OrderOut,
        ClickOut,
        LeaderboardOut,
        HoldPage,
        ResultsOut,
        EditSaleRequest,
        OrderLookupOut,
        QueueStatusOut,
        crate::live::LiveMessage,
        crate::live::LiveStatusOut,
        crate::live::LiveStockOut,
        crate::live::LiveDropOut,
        crate::live::LiveDashboardOut,
        crate::seatmap::Delta,
        QueueTicketOut,
        WaitingRoomOut,
        SeatedOut,
        SectionOut,
        SeatHoldOut,
        SeatOut,
        VenueLayoutOut,
        MySeatsOut,
        PassKeyOut,
        ReceiptKeyOut,
        ReceiptOut,
        LogIdentityOut,
        StatsOut,
        FriendRequestBody,
        FriendsOut,
        FriendOut,
        PendingFriendOut,
        FriendshipOut,
        FriendState,
        PersonOut,
        CreateVenueRequest,
        VenueSummaryOut,
        VenuesOut,
        WalletOut,
        StatementLineOut,
        GrantRequest,
        GrantOut,
        PayRequest,
        PaymentOut,
        tickets::TicketOut,
        tickets::TicketsOut,
        tickets::PlaceOut,
        tickets::TransferIn,
        tickets::GateKitOut,
        tickets::CheckinIn,
        tickets::CheckinOut,
        tickets::ScanIn,
        tickets::SyncIn,
        tickets::SyncOut,
        tickets::VerdictOut,
        tickets::CheckinProgressOut,
        tickets::ConflictOut
    ))
)]
pub struct ApiDoc;

/// Routes anyone may call without signing in, as `(method, path)`. Every
/// other route is declared to need a bearer token or a session, and
/// schemathesis's `ignored_auth` check proves it does.
pub const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/ping"),
    ("get", "/api/openapi.json"),
    ("post", "/api/auth/signup"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/tokens"),
    ("get", "/api/sales"),
    ("get", "/api/sales/{id}"),
    ("get", "/api/sales/{id}/leaderboard"),
    ("get", "/api/sales/{id}/queue"),
    ("get", "/api/sales/{id}/queue/ws"),
    ("get", "/api/sales/{id}/live/ws"),
    ("get", "/api/queue/pass-key"),
    ("get", "/api/sales/{id}/venue"),
    ("get", "/api/sales/{id}/seats"),
    ("get", "/api/sales/{id}/seats/ws"),
    ("get", "/api/sales/{id}/log"),
    ("get", "/.well-known/stampede/receipt-key"),
];

/// Routes that hash a password (argon2, a bounded number at a time) and so
/// answer 503 when too many wait.
const HASHING: &[(&str, &str)] = &[
    ("post", "/api/auth/signup"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/tokens"),
    ("post", "/api/admin/users"),
];

/// Routes that buy in a sale, which in a sale with a waiting room need the
/// `stampede-pass` header (`SalePass`).
const BUYING: &[(&str, &str)] =
    &[("post", "/api/sales/{id}/holds"), ("post", "/api/sales/{id}/clicks"), ("post", "/api/sales/{id}/seats/holds")];

const PROBLEM_REF: &str = "#/components/schemas/Problem";
const PROBLEM_TYPE: &str = "application/problem+json";
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

// Served from here, not from `routes::system`: the document lists every
// route module, so no route module may need it. (A `///` line here would
// change the operation's summary in the document.)
/// This API's OpenAPI document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "system",
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi() -> axum::Json<&'static Value> {
    axum::Json(document())
}

/// The served document: the annotations completed by the conventions above.
/// Built once; it never changes while the server runs.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
        apply_conventions(&mut doc);
        doc
    })
}

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {PROBLEM_TYPE: {"schema": {"$ref": PROBLEM_REF}}}})
}

fn apply_conventions(doc: &mut Value) {
    let components = doc.as_object_mut().map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(Value::Object(components)) = components {
        let schemes = components.entry("securitySchemes").or_insert_with(|| json!({}));
        if let Value::Object(schemes) = schemes {
            schemes.insert(
                "bearer".into(),
                json!({"type": "http", "scheme": "bearer",
                    "description": "A token from POST /api/auth/tokens, or the operator's STAMPEDE_ADMIN_TOKEN"}),
            );
            schemes.insert(
                "session".into(),
                json!({"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                    "description": format!("The session cookie of POST /api/auth/login; changes also need the {CSRF_HEADER} header")}),
            );
        }
    }
    integer_ranges(doc);
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(Value::Object(op)) = item.get_mut(method) {
                complete_operation(method, path, op);
            }
        }
    }
}

fn complete_operation(method: &str, path: &str, op: &mut Map<String, Value>) {
    let has_body = op.contains_key("requestBody");
    let has_query =
        op.get("parameters").and_then(Value::as_array).is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Value::Object(responses) = responses else { return };
    for response in responses.values_mut() {
        problem_content_type(response);
        // OpenAPI requires a description; utoipa leaves it out when none was given.
        if let Value::Object(r) = response {
            r.entry("description").or_insert_with(|| json!(""));
        }
    }
    // A status the annotation declared already keeps its own description and
    // gains the convention's meaning beside it.
    let mut add = |status: &str, response: Value| match responses.get_mut(status) {
        None => {
            responses.insert(status.to_owned(), response);
        }
        Some(declared) => {
            let extra = response["description"].as_str().unwrap_or_default();
            let own = declared["description"].as_str().unwrap_or_default();
            if !own.contains(extra) {
                declared["description"] =
                    json!(if own.is_empty() { extra.to_owned() } else { format!("{own}; {extra}") });
            }
            // And the convention's headers (a 503's `retry-after`), where the annotation has none.
            if let (Some(Value::Object(theirs)), Value::Object(d)) = (response.get("headers"), declared) {
                let Value::Object(mine) = d.entry("headers").or_insert_with(|| json!({})) else { return };
                for (name, header) in theirs {
                    mine.entry(name.clone()).or_insert_with(|| header.clone());
                }
            }
        }
    };
    let public = PUBLIC.contains(&(method, path));
    if !public {
        add("401", problem("no valid bearer token or session (`/problems/unauthenticated`)"));
        if method != "get" {
            add("403", problem("a change made with a session cookie needs the x-csrf-token header (`/problems/csrf`)"));
        }
    }
    if has_body {
        add("400", problem("the body is not JSON or not of the declared shape (`/problems/malformed-json`)"));
        add("413", problem("the body is over the route's limit (`/problems/body-too-large`)"));
    }
    if has_query {
        add("422", problem("a query parameter that is not a number or out of its range (`/problems/invalid-field`)"));
    }
    if path.contains('{') {
        add("404", problem("nothing has that id (`/problems/not-found`)"));
    }
    if path.ends_with("/ws") {
        add("400", problem("not a WebSocket upgrade request"));
    }
    let changes_sale = method != "get" && path.starts_with("/api/sales/{id}/");
    if changes_sale {
        add("400", problem("a malformed idempotency-key header (`/problems/invalid-idempotency-key`) or body"));
        add("422", problem("the idempotency key was used for another command (`/problems/idempotency-key-reused`)"));
    }
    // The WebSockets watch what sales publish and never wait on a mailbox.
    let engine = path.starts_with("/api/sales") && !path.ends_with("/ws")
        || matches!(path, "/api/me/holds" | "/api/me/orders" | "/api/me/seats");
    if engine || HASHING.contains(&(method, path)) {
        let mut busy = problem("busy (`/problems/overloaded`) or the log cannot be written (`/problems/unavailable`)");
        busy["headers"] = json!({"retry-after": {"description": "seconds to wait", "schema": {"type": "integer"}}});
        add("503", busy);
    } else if !crate::edge::never_shed(path) {
        let mut busy = problem("the server is answering as many requests as it takes at once (`/problems/overloaded`)");
        busy["headers"] = json!({"retry-after": {"description": "seconds to wait", "schema": {"type": "integer"}}});
        add("503", busy);
    }
    if changes_sale {
        // Every answer the sale logged carries its receipt: successes and its refusals.
        for (status, response) in responses.iter_mut() {
            if (status.starts_with('2') || matches!(status.as_str(), "403" | "404" | "409" | "422"))
                && let Value::Object(r) = response
                && let Value::Object(h) = r.entry("headers").or_insert_with(|| json!({}))
            {
                h.insert(
                    RECEIPT_HEADER.into(),
                    json!({"description": "The command's signed receipt: base64url of a `ReceiptOut` JSON \
                        (absent when the sale did not log the request, e.g. a refusal at the edge)",
                        "schema": {"type": "string"}}),
                );
            }
        }
    }
    if !public {
        op.insert("security".into(), json!([{"bearer": []}, {"session": []}]));
    }
    let mut headers = Vec::new();
    if BUYING.contains(&(method, path)) {
        headers.push(json!({
            "name": PASS_HEADER,
            "in": "header",
            "required": false,
            "description": "The pass of an admitted place, for a sale with a waiting room (`/problems/pass-required`, \
                `/problems/pass-invalid`, `/problems/pass-expired` otherwise)",
            "schema": {"type": "string"}
        }));
    }
    if changes_sale {
        headers.push(json!({
            "name": "idempotency-key",
            "in": "header",
            "required": false,
            "description": "Repeat a change with the same key to get the first answer again; \
                without one the server draws a fresh key",
            "schema": {"type": "string", "minLength": 1,
                "maxLength": stampede_core::IDEMPOTENCY_KEY_LEN_MAX, "pattern": "^[!-~]+$"}
        }));
    }
    if !headers.is_empty()
        && let Value::Array(params) = op.entry("parameters").or_insert_with(|| json!([]))
    {
        params.extend(headers);
    }
}

/// Gives every integer without a declared bound the range of the Rust type
/// behind it, which is all the server can read: utoipa writes `u32` as
/// `int32` with `minimum: 0`, `i64` as `int64`, and so on. A larger number
/// is a malformed body (400), not an out-of-range field.
fn integer_ranges(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let integer = match map.get("type") {
                Some(Value::String(t)) => t == "integer",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
                _ => false,
            };
            if integer {
                let unsigned = map.get("minimum").and_then(Value::as_f64).is_some_and(|m| m >= 0.0);
                let (lo, hi) = match (map.get("format").and_then(Value::as_str), unsigned) {
                    (Some("int32"), false) => (json!(i32::MIN), json!(i32::MAX)),
                    (Some("int32"), true) => (json!(0), json!(u32::MAX)),
                    (_, false) => (json!(i64::MIN), json!(i64::MAX)),
                    (_, true) => (json!(0), json!(u64::MAX)),
                };
                map.entry("minimum").or_insert(lo);
                map.entry("maximum").or_insert(hi);
            }
            map.values_mut().for_each(integer_ranges);
        }
        Value::Array(items) => items.iter_mut().for_each(integer_ranges),
        _ => {}
    }
}

/// A problem declared with the annotation's default JSON media type is
/// served as `application/problem+json`.
fn problem_content_type(response: &mut Value) {
    let Some(Value::Object(content)) = response.get_mut("content") else { return };
    let is_problem =
        content.get("application/json").and_then(|c| c.pointer("/schema/$ref")).is_some_and(|r| r == PROBLEM_REF);
    if is_problem && let Some(c) = content.remove("application/json") {
        content.insert(PROBLEM_TYPE.into(), c);
    }
}
