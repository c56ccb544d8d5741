//! The sequential API client used for provisioning and for the checks that
//! follow a run: bulk users, sale creation, sale state, leaderboard and hold
//! listings. Only the fields the bench needs are parsed.
//!
//! Requests that are safe to repeat (connection refused, `503`, a `GET` whose
//! connection broke) are retried ([`crate::retry`]) for up to [`RETRY_BUDGET`], so
//! that the checks after a run survive a server restart.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use hyper::header::HeaderValue;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::error::BenchError;
use crate::http::{self, Attempt, Link, Target};
use crate::retry::{self, Answer, AnswerBy, Judged, Repeat, Retry, Sent, Via};
use crate::room::{QueueStatus, RoomInfo, ServerStats};
use crate::stats::Class;

/// How long a retriable request keeps being retried.
pub(crate) const RETRY_BUDGET: Duration = Duration::from_secs(30);
/// The time limit of one attempt (bulk user creation hashes many tokens).
const ATTEMPT_LIMIT: Duration = Duration::from_secs(120);
/// The largest `count` of `POST /api/admin/users/bulk`.
pub(crate) const BULK_MAX: u32 = 10_000;
/// The largest page of `GET /api/sales/{id}/leaderboard`.
pub(crate) const LEADERBOARD_PAGE: u64 = 1000;
/// The largest page of `GET /api/sales/{id}/holds`.
pub(crate) const HOLDS_PAGE: u64 = 10_000;

/// A virtual user: server id and ready-made `authorization` header.
#[derive(Debug, Clone)]
pub(crate) struct VUser {
    pub id: u64,
    pub auth: HeaderValue,
}

/// The part of a `Sale` the bench reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Sale {
    pub id: u64,
    #[serde(default)]
    pub stock: Option<StockState>,
    #[serde(default)]
    pub drop: Option<DropState>,
    #[serde(default)]
    pub waiting_room: Option<RoomInfo>,
    #[serde(default)]
    pub seated: Option<SeatedState>,
}

/// `Sale.seated` (the counts; sections and rules are not read).
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct SeatedState {
    pub total: u64,
    pub available: u64,
    pub held: u64,
    pub sold: u64,
}

/// `GET /api/sales/{id}/venue`: the seat numbering (labels and coordinates are skipped).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct VenueLayout {
    pub seats: u32,
    pub sections: Vec<SectionLayout>,
}

/// One section of a [`VenueLayout`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SectionLayout {
    pub index: u16,
    pub name: String,
    pub tier: String,
    pub first_seat: u32,
    pub rows: Vec<RowLayout>,
}

/// One row: seat ids `first_seat..first_seat + len`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RowLayout {
    pub first_seat: u32,
    #[serde(rename = "seats", deserialize_with = "count_seats")]
    pub len: u32,
}

/// Counts the `[label, x, y]` entries of a row without keeping them.
fn count_seats<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    struct Count;
    impl<'de> serde::de::Visitor<'de> for Count {
        type Value = u32;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of seats")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<u32, A::Error> {
            let mut n = 0u32;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                n = n.saturating_add(1);
            }
            Ok(n)
        }
    }
    d.deserialize_seq(Count)
}

/// `Sale.stock`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct StockState {
    pub total: u64,
    pub available: u64,
    pub held: u64,
    pub sold: u64,
}

/// `Sale.drop`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct DropState {
    pub winners: u64,
    pub clicks: u64,
    pub won: u64,
}

/// One leaderboard page.
#[derive(Debug, Deserialize)]
pub(crate) struct LeaderboardPage {
    pub total: u64,
    pub entries: Vec<LeaderboardEntry>,
}

/// One leaderboard entry (name and times as text are ignored).
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct LeaderboardEntry {
    pub rank: u64,
    pub won: bool,
    pub clicked_at_us: i64,
}

/// One page of `GET /api/sales/{id}/holds`.
#[derive(Debug, Deserialize)]
pub(crate) struct HoldsPage {
    pub holds: Vec<HoldRow>,
    pub next_after: Option<u64>,
}

/// `HoldRow`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct HoldRow {
    pub id: u64,
    pub user_id: u64,
    pub quantity: u64,
    pub status: String,
}

/// `GET /api/me/wallet`, in won.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct WalletState {
    pub balance: u64,
    /// Reserved by payments in progress: none once every payment ended.
    pub pending: u64,
}

#[derive(Deserialize)]
struct TicketList {
    tickets: Vec<TicketRow>,
}

/// One of `GET /api/me/tickets` (place, holder and QR are not read).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TicketRow {
    pub sale_id: u64,
    pub ticket: u64,
    /// The order (hold number) that paid for it.
    pub order: u64,
    /// `valid`, `admitted` or `revoked`.
    pub state: String,
}

/// The part of `GET /api/sales/{id}/stats` the bench reads.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct SaleStats {
    pub held: u64,
    pub sold: u64,
    /// Confirmed orders' total, refunds excluded, in the minor unit.
    pub revenue: u64,
    pub refunds: u64,
}

#[derive(Deserialize)]
struct BulkUsers {
    users: Vec<BulkUser>,
}

#[derive(Deserialize)]
struct BulkUser {
    id: u64,
    token: String,
}

#[derive(Deserialize)]
struct Problem<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    detail: Option<std::borrow::Cow<'a, str>>,
}

/// The `type` of a problem document, if the body is one.
pub(crate) fn problem_type(body: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    serde_json::from_slice::<Problem<'_>>(body).ok()?.kind
}

/// Formats a problem body for an error message: ` (type: detail)`.
fn problem_suffix(body: &[u8]) -> String {
    match serde_json::from_slice::<Problem<'_>>(body) {
        Ok(Problem { kind: Some(kind), detail }) => match detail {
            Some(detail) => format!(" ({kind}: {detail})"),
            None => format!(" ({kind})"),
        },
        _ => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            if text.is_empty() { String::new() } else { format!(" ({text})") }
        }
    }
}

/// `Bearer <token>` as a header value.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue, BenchError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| BenchError::InvalidArgs("a token contains characters not allowed in a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Sequential client for provisioning and checks.
pub(crate) struct Api {
    link: Link,
    admin: Option<HeaderValue>,
}

/// Who a request is sent as.
#[derive(Clone)]
pub(crate) enum As {
    Anyone,
    Admin,
    /// A user, by their `authorization` header.
    User(HeaderValue),
}

impl Api {
    pub fn new(target: Arc<Target>, admin_token: Option<&str>) -> Result<Api, BenchError> {
        let admin = admin_token.map(bearer).transpose()?;
        Ok(Api { link: Link::new(target), admin })
    }

    /// Sends a request and returns the body of a 2xx answer.
    async fn call(
        &mut self,
        method: Method,
        api_path: &str,
        who: As,
        body: Option<Bytes>,
    ) -> Result<Bytes, BenchError> {
        self.call_keyed(method, api_path, who, None, body).await
    }

    /// [`Api::call`] with an `idempotency-key`: every attempt carries it, so
    /// a command whose answer was lost may be sent again.
    async fn call_keyed(
        &mut self,
        method: Method,
        api_path: &str,
        who: As,
        key: Option<HeaderValue>,
        body: Option<Bytes>,
    ) -> Result<Bytes, BenchError> {
        let target = self.link.shared_target();
        let target = &*target;
        let uri = target.uri(api_path)?;
        let path = target.path(api_path);
        let auth = match who {
            As::Anyone => None,
            As::Admin => Some(self.admin.clone().ok_or(BenchError::MissingAdminToken("provisioning"))?),
            As::User(auth) => Some(auth),
        };
        let retry = Retry::until(Instant::now() + RETRY_BUDGET)
            .answer_by(AnswerBy::Within(ATTEMPT_LIMIT))
            .repeat(if method == Method::GET || key.is_some() { Repeat::Idempotent } else { Repeat::NotIdempotent });
        let make = || http::request(target, method.clone(), uri.clone(), auth.as_ref(), key.clone(), body.clone());
        let sent =
            retry::send(&mut Via::Uncounted(&mut self.link), retry, make, |_, _| Judged::new(Class::Ok, ())).await?;
        let refused = |status: hyper::StatusCode, body: &[u8]| BenchError::Api {
            method: method.to_string(),
            path: path.clone(),
            status: status.as_u16(),
            problem: problem_suffix(body),
        };
        Err(match sent {
            Sent::Answer(Answer { status, body, .. }) if status.is_success() => return Ok(body),
            Sent::Answer(Answer { status, body, .. })
            | Sent::NoAnswer { last: Some(Attempt::Response { status, body, .. }), .. } => refused(status, &body),
            Sent::NoAnswer { last: Some(other), .. } => {
                BenchError::Unreachable { method: method.to_string(), path, reason: other.describe() }
            }
            Sent::NoAnswer { last: None, .. } => {
                BenchError::Unreachable { method: method.to_string(), path, reason: "no time left to try".into() }
            }
        })
    }

    async fn json<T: DeserializeOwned>(
        &mut self,
        method: Method,
        api_path: &str,
        who: As,
        body: Option<Bytes>,
    ) -> Result<T, BenchError> {
        let bytes = self.call(method.clone(), api_path, who, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| BenchError::Protocol {
            method: method.to_string(),
            path: self.link.target().path(api_path),
            reason: e.to_string(),
        })
    }

    /// Creates `count` bulk users (in chunks of at most [`BULK_MAX`]).
    pub async fn bulk_users(&mut self, count: u32, mut progress: impl FnMut(usize)) -> Result<Vec<VUser>, BenchError> {
        let mut users = Vec::with_capacity(count as usize);
        let mut left = count;
        while left > 0 {
            let chunk = left.min(BULK_MAX);
            let body = serde_json::json!({"count": chunk, "name_prefix": "bench"});
            let page: BulkUsers = self
                .json(Method::POST, "/api/admin/users/bulk", As::Admin, Some(Bytes::from(body.to_string())))
                .await?;
            if page.users.len() != chunk as usize {
                return Err(BenchError::Protocol {
                    method: "POST".into(),
                    path: self.link.target().path("/api/admin/users/bulk"),
                    reason: format!("asked for {chunk} users, got {}", page.users.len()),
                });
            }
            for user in page.users {
                users.push(VUser { id: user.id, auth: bearer(&user.token)? });
            }
            left -= chunk;
            progress(users.len());
        }
        Ok(users)
    }

    /// `POST /api/sales` then `POST /api/sales/{id}/open`.
    pub async fn create_open_sale(&mut self, spec: serde_json::Value) -> Result<Sale, BenchError> {
        let sale = self.create_sale(spec).await?;
        self.open_sale(sale.id).await
    }

    /// `POST /api/sales` (admin).
    pub async fn create_sale(&mut self, spec: serde_json::Value) -> Result<Sale, BenchError> {
        self.json(Method::POST, "/api/sales", As::Admin, Some(Bytes::from(spec.to_string()))).await
    }

    /// `POST /api/sales/{id}/open` (admin).
    pub async fn open_sale(&mut self, id: u64) -> Result<Sale, BenchError> {
        self.json(Method::POST, &format!("/api/sales/{id}/open"), As::Admin, None).await
    }

    /// `POST /api/admin/wallets/{user}/grant` (admin): puts `amount` won on
    /// the user's wallet, once per `key`.
    pub async fn grant(&mut self, user: u64, amount: u64, key: &str) -> Result<(), BenchError> {
        let key = HeaderValue::from_str(key)
            .map_err(|_| BenchError::Internal(format!("idempotency key {key:?} is not a header value")))?;
        let body = Bytes::from(serde_json::json!({"amount": amount, "note": "stampede bench"}).to_string());
        let path = format!("/api/admin/wallets/{user}/grant");
        self.call_keyed(Method::POST, &path, As::Admin, Some(key), Some(body)).await.map(drop)
    }

    /// `GET /api/me/wallet` as a user (its statement is not read).
    pub async fn wallet(&mut self, auth: &HeaderValue) -> Result<WalletState, BenchError> {
        self.json(Method::GET, "/api/me/wallet", As::User(auth.clone()), None).await
    }

    /// `GET /api/me/tickets` as a user: their tickets in every sale, newest sale first.
    pub async fn tickets(&mut self, auth: &HeaderValue) -> Result<Vec<TicketRow>, BenchError> {
        let list: TicketList = self.json(Method::GET, "/api/me/tickets", As::User(auth.clone()), None).await?;
        Ok(list.tickets)
    }

    /// `GET /api/sales/{id}/stats` (admin).
    pub async fn sale_stats(&mut self, id: u64) -> Result<SaleStats, BenchError> {
        self.json(Method::GET, &format!("/api/sales/{id}/stats"), As::Admin, None).await
    }

    /// `GET /api/sales/{id}/queue`.
    pub async fn queue_status(&mut self, id: u64) -> Result<QueueStatus, BenchError> {
        self.json(Method::GET, &format!("/api/sales/{id}/queue"), As::Anyone, None).await
    }

    /// `GET /api/admin/stats` (admin).
    pub async fn admin_stats(&mut self) -> Result<ServerStats, BenchError> {
        self.json(Method::GET, "/api/admin/stats", As::Admin, None).await
    }

    /// `GET /api/sales/{id}`.
    pub async fn sale(&mut self, id: u64) -> Result<Sale, BenchError> {
        self.json(Method::GET, &format!("/api/sales/{id}"), As::Anyone, None).await
    }

    /// `GET /api/sales/{id}/venue`.
    pub async fn venue(&mut self, id: u64) -> Result<VenueLayout, BenchError> {
        self.json(Method::GET, &format!("/api/sales/{id}/venue"), As::Anyone, None).await
    }

    /// `GET /api/sales/{id}/seats`: the seat map snapshot, as sent.
    pub async fn seat_map(&mut self, id: u64) -> Result<Bytes, BenchError> {
        self.call(Method::GET, &format!("/api/sales/{id}/seats"), As::Anyone, None).await
    }

    /// One leaderboard page.
    pub async fn leaderboard(&mut self, sale: u64, offset: u64) -> Result<LeaderboardPage, BenchError> {
        let path = format!("/api/sales/{sale}/leaderboard?offset={offset}&limit={LEADERBOARD_PAGE}");
        self.json(Method::GET, &path, As::Anyone, None).await
    }

    /// The whole leaderboard, or up to the page holding rank `up_to`.
    pub async fn leaderboard_all(
        &mut self,
        sale: u64,
        up_to: Option<u64>,
    ) -> Result<(u64, Vec<LeaderboardEntry>), BenchError> {
        let mut entries = Vec::new();
        let mut total = 0;
        loop {
            let offset = entries.len() as u64;
            let page = self.leaderboard(sale, offset).await?;
            total = total.max(page.total);
            let got = page.entries.len() as u64;
            entries.extend(page.entries);
            let end = up_to.map_or(total, |r| r.min(total));
            if got == 0 || entries.len() as u64 >= end {
                return Ok((total, entries));
            }
        }
    }

    /// A `GET` as `who`, its JSON as sent (what only one test reads).
    pub async fn get_json(&mut self, api_path: &str, who: As) -> Result<serde_json::Value, BenchError> {
        self.json(Method::GET, api_path, who, None).await
    }

    /// The server's `process_cpu_seconds_total` from `GET /metrics`; `None`
    /// when it serves no metrics (`--metrics off`, or an older server) or
    /// does not report its CPU.
    pub async fn server_cpu_seconds(&mut self) -> Option<f64> {
        let text = self.call(Method::GET, "/metrics", As::Anyone, None).await.ok()?;
        cpu_seconds_of_metrics(std::str::from_utf8(&text).ok()?)
    }

    /// `GET /readyz`: whether the server says it is ready (a `503` is retried
    /// for the retry budget before it counts as not ready).
    pub async fn ready(&mut self) -> Result<bool, BenchError> {
        match self.call(Method::GET, "/readyz", As::Anyone, None).await {
            Ok(_) => Ok(true),
            Err(BenchError::Api { status: 503, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One page of the sale's hold rows (admin).
    pub async fn holds(&mut self, sale: u64, after: Option<u64>) -> Result<HoldsPage, BenchError> {
        let path = match after {
            Some(after) => format!("/api/sales/{sale}/holds?after={after}&limit={HOLDS_PAGE}"),
            None => format!("/api/sales/{sale}/holds?limit={HOLDS_PAGE}"),
        };
        self.json(Method::GET, &path, As::Admin, None).await
    }
}

/// The value of `process_cpu_seconds_total` in a Prometheus text exposition.
pub(crate) fn cpu_seconds_of_metrics(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix("process_cpu_seconds_total "))
        .and_then(|value| value.trim().parse().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_are_read_from_the_metrics_text() {
        let text = "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total_x 9\n\
                    process_cpu_seconds_total 12.34\nprocess_resident_memory_bytes 1\n";
        assert_eq!(cpu_seconds_of_metrics(text), Some(12.34));
        assert_eq!(cpu_seconds_of_metrics("process_resident_memory_bytes 1\n"), None);
    }

    #[test]
    fn venue_layout_parsing() {
        let text = r##"{"name":"V","seats":7,"sections":[{"index":0,"name":"S0","tier":"R","price":1,
            "colour":"#000","first_seat":0,"rows":[{"label":"A","first_seat":0,"seats":[["1",0,0],["2",1,0]]},
            {"label":"B","first_seat":2,"seats":[["1",0,1],["2",1,1],["3",2,1]]}]},
            {"index":1,"name":"S1","tier":"S","price":1,"colour":"#000","first_seat":5,
            "rows":[{"label":"A","first_seat":5,"seats":[["1",0,0],["2",1,0]]}]}]}"##;
        let v: VenueLayout = serde_json::from_str(text).unwrap();
        assert_eq!(v.seats, 7);
        assert_eq!(v.sections.len(), 2);
        assert_eq!((v.sections[0].rows[1].first_seat, v.sections[0].rows[1].len), (2, 3));
        assert_eq!((v.sections[1].index, v.sections[1].name.as_str(), v.sections[1].tier.as_str()), (1, "S1", "S"));
    }

    #[test]
    fn problem_parsing() {
        let body = br#"{"type": "/problems/sold-out", "title": "Sold out", "status": 409}"#;
        assert_eq!(problem_type(body).as_deref(), Some("/problems/sold-out"));
        assert_eq!(problem_type(b"not json"), None);
        assert_eq!(problem_suffix(br#"{"type":"/problems/forbidden","detail":"no"}"#), " (/problems/forbidden: no)");
        assert_eq!(problem_suffix(b""), "");
    }
}
