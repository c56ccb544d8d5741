//! Every API error as an RFC 9457 `application/problem+json` answer with a
//! stable `type`. Handlers return `Result<_, ApiError>`; internal failures are
//! logged here and leave the server as a bare 500 with no detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stampede_core::Rejection;
use stampede_engine::EngineError;
use stampede_store::StoreError;

/// The JSON body of a problem answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier, e.g. `/problems/sold-out`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// `seats-taken` only: the seats (ids) someone else has, so a seat map can mark them at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<u32>>,
    /// `invalid-field` and `bad-quantity`: the refused request field, as a
    /// dotted path (`stock`, `waiting_room.chunk_size`, `opens_at`), so a page
    /// can word the problem in its own language. `detail` stays English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// With `field`: the rule it broke. `range`: a number from `min` to `max`;
    /// `length`: text of `min` to `max` characters; `format`: not in the
    /// expected form (see `detail`); `after`: a time not after `opens_at`;
    /// `future`: a time already past.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// With `rule` `range` or `length`: the least value allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub min: Option<serde_json::Value>,
    /// With `rule` `range` or `length`: the greatest value allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub max: Option<serde_json::Value>,
    /// `sections-overlap` only: the names of two sections that overlap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<String>>,
    /// `weak-password` only: why, as a stable code (`common`, `personal`,
    /// `pattern`, `date`, `word`, `guessable`) a page can say in its language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// What a refused field was and which rule it broke (see [`Problem::field`]).
#[derive(Debug, Clone)]
pub struct FieldRule {
    pub field: String,
    pub rule: &'static str,
    pub min: Option<serde_json::Value>,
    pub max: Option<serde_json::Value>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub retry_after_s: Option<u32>,
    /// Extension member `seats` (see [`Problem::seats`]); boxed, like the
    /// others, to keep every `Result<_, ApiError>` small.
    pub seats: Option<Box<[u32]>>,
    /// Extension members `field`, `rule`, `min`, `max` (see [`Problem::field`]).
    pub field: Option<Box<FieldRule>>,
    /// What few problems carry (the extension member `sections`, a
    /// receipt), boxed together to keep every `Result<_, ApiError>` small.
    pub rare: Option<Box<Rare>>,
    /// Extension member `reason` (see [`Problem::reason`]).
    pub reason: Option<&'static str>,
}

/// The parts of an [`ApiError`] few problems have.
#[derive(Debug, Default)]
pub struct Rare {
    /// Extension member `sections` (see [`Problem::sections`]).
    pub sections: Option<[String; 2]>,
    /// A refused command is still logged: its receipt, sent as the
    /// `stampede-receipt` header ([`RECEIPT_HEADER`]).
    pub receipt: Option<HeaderValue>,
}

/// The response header that carries an acknowledged command's signed
/// receipt (base64url of its JSON, `stampede_engine::public::Receipt`).
pub const RECEIPT_HEADER: &str = "stampede-receipt";

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            slug,
            title,
            detail: detail.into(),
            retry_after_s: None,
            seats: None,
            field: None,
            rare: None,
            reason: None,
        }
    }

    /// Sends the command's receipt with the refusal.
    pub fn with_receipt(mut self, receipt: Option<String>) -> Self {
        if let Some(value) = receipt.and_then(|r| HeaderValue::from_str(&r).ok()) {
            self.rare.get_or_insert_with(Box::default).receipt = Some(value);
        }
        self
    }

    /// Names the field and rule a refusal is about (see [`Problem::field`]).
    pub fn with_field(
        mut self,
        field: &str,
        rule: &'static str,
        min: Option<serde_json::Value>,
        max: Option<serde_json::Value>,
    ) -> Self {
        self.field = Some(Box::new(FieldRule { field: field.to_owned(), rule, min, max }));
        self
    }

    /// `field` is not a number from `lo` to `hi`.
    pub fn out_of_range<N: Into<serde_json::Value> + std::fmt::Display + Copy>(field: &str, lo: N, hi: N) -> Self {
        Self::invalid_field(format!("{field} must be between {lo} and {hi}")).with_field(
            field,
            "range",
            Some(lo.into()),
            Some(hi.into()),
        )
    }

    /// `field` is not text of `lo` to `hi` characters.
    pub fn bad_length(field: &str, lo: usize, hi: usize) -> Self {
        Self::invalid_field(format!("{field} must be {lo}-{hi} characters")).with_field(
            field,
            "length",
            Some(lo.into()),
            Some(hi.into()),
        )
    }

    /// `field` is not in the expected form; `detail` says which.
    pub fn bad_format(field: &str, detail: impl Into<String>) -> Self {
        Self::invalid_field(detail).with_field(field, "format", None, None)
    }

    /// Two sections of a venue overlap on the map.
    pub fn sections_overlap(detail: impl Into<String>, names: [String; 2]) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "sections-overlap", "Sections overlap", detail);
        e.rare.get_or_insert_with(Box::default).sections = Some(names);
        e
    }

    /// A venue the core refused: its overlap as `sections-overlap`, any other reason as `invalid-field`.
    pub fn venue(field: &str, e: stampede_core::VenueError) -> Self {
        match e.overlapping {
            Some(names) => Self::sections_overlap(format!("{field}: {}", e.reason), names),
            None => Self::invalid_field(format!("{field}: {}", e.reason)),
        }
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed request body", detail)
    }

    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            "the body is over this route's limit (16 KiB; 8 MiB where a whole venue is sent)",
        )
    }

    pub fn body_too_slow() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "body-too-slow",
            "Request body too slow",
            "the body did not arrive at the minimum rate or within the time allowed; send it again at once",
        )
    }

    pub fn invalid_field(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-field", "Invalid field", detail)
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Sign in first", "no valid bearer token or session")
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Missing CSRF token",
            "a change made with a session cookie needs the x-csrf-token header",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn overloaded(detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "Busy, retry shortly", detail);
        e.retry_after_s = Some(1);
        e
    }

    pub fn unavailable() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            "the command log cannot be written; nothing was done",
        );
        e.retry_after_s = Some(5);
        e
    }

    /// The disk under the account store is full: nothing was written, and the
    /// same request can succeed once an operator has made room.
    pub fn storage_full() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage-full",
            "Storage full",
            "the server's disk is full; nothing was saved; retry later",
        );
        e.retry_after_s = Some(30);
        e
    }

    /// A bug or an I/O failure: logged with its cause, answered without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "see the server log")
    }

    /// Too many password checks or account lookups (see `throttle.rs`).
    pub fn too_many_attempts(wait: std::time::Duration) -> Self {
        let secs = crate::throttle::retry_after_s(wait);
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            "Too many attempts",
            format!("too many sign-in attempts for this account or from this address; try again in {secs} s"),
        );
        e.retry_after_s = Some(secs);
        e
    }

    pub fn kind(&self) -> String {
        format!("/problems/{}", self.slug)
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        use StatusCode as S;
        let conflict = |slug, title, detail: String| ApiError::new(S::CONFLICT, slug, title, detail);
        match r {
            Rejection::NotOpenYet => conflict("not-open-yet", "Not open yet", "the sale has not opened".into()),
            Rejection::Closed => conflict("sale-closed", "Sale closed", "the sale has closed".into()),
            Rejection::SoldOut { available } => {
                conflict("sold-out", "Sold out", format!("not enough stock left: {available} available"))
            }
            Rejection::LimitReached { remaining } => conflict(
                "limit-reached",
                "Per-person limit reached",
                format!("you may take {remaining} more in this sale"),
            ),
            Rejection::BadQuantity { max } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "bad-quantity",
                "Bad quantity",
                format!("quantity must be between 1 and {max}"),
            )
            .with_field("quantity", "range", Some(1.into()), Some(max.into())),
            Rejection::UnknownHold => ApiError::not_found("no such hold in this sale"),
            Rejection::UnknownOrder => ApiError::not_found("no such order in this sale"),
            Rejection::NotYourHold => {
                ApiError::new(S::FORBIDDEN, "not-your-hold", "Not yours", "that hold or order belongs to someone else")
            }
            Rejection::HoldExpired => conflict("hold-expired", "Hold expired", "the hold's lifetime is over".into()),
            Rejection::HoldNotActive => {
                conflict("hold-not-active", "Hold not active", "the hold is already confirmed or cancelled".into())
            }
            Rejection::AlreadyRefunded => {
                conflict("already-refunded", "Already refunded", "the order was refunded before".into())
            }
            Rejection::AlreadyOpen => conflict("already-open", "Already open", "the sale is open".into()),
            Rejection::AlreadyClosed => conflict("already-closed", "Already closed", "the sale has closed".into()),
            Rejection::WrongSaleKind => {
                conflict("wrong-sale-kind", "Wrong sale kind", "this sale does not take that command".into())
            }
            Rejection::IdempotencyKeyReused => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                "that idempotency key was used for a different command",
            ),
            Rejection::NoWaitingRoom => {
                conflict("no-waiting-room", "No waiting room", "this sale has no waiting room".into())
            }
            Rejection::QueueNotOpen => {
                conflict("queue-not-open", "Waiting room not open", "joining has not started yet".into())
            }
            Rejection::BadProofOfWork { bits } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "bad-proof-of-work",
                "Bad proof of work",
                format!("the nonce must give a hash with at least {bits} leading zero bits"),
            ),
            Rejection::AddressLimitReached => ApiError::new(
                S::TOO_MANY_REQUESTS,
                "address-limit-reached",
                "Too many places from this address",
                "this network address already holds the most places allowed in this waiting room",
            ),
            Rejection::NotInQueue => {
                ApiError::new(S::NOT_FOUND, "not-in-queue", "Not in the waiting room", "join the waiting room first")
            }
            Rejection::NotAdmitted => ApiError::new(
                S::FORBIDDEN,
                "not-admitted",
                "Not admitted yet",
                "your place in the waiting room has not been admitted yet",
            ),
            Rejection::PassExpired => {
                ApiError::new(S::FORBIDDEN, "pass-expired", "Pass expired", "your pass is past its lifetime")
            }
            Rejection::PassUsed => {
                conflict("pass-used", "Pass used", "your pass was used for a completed purchase".into())
            }
            Rejection::UnknownSeat { seat } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "unknown-seat",
                "Unknown seat",
                format!("seat {} is not in this venue", seat.0),
            ),
            Rejection::SeatsTaken { count, seats } => {
                let listed: Vec<String> = seats.iter().map(|s| s.0.to_string()).collect();
                let mut e = conflict(
                    "seats-taken",
                    "Seats already taken",
                    if count == 1 {
                        format!("seat {} is already taken by someone else", listed.join(", "))
                    } else {
                        format!("{count} of the seats are already taken by someone else: {}", listed.join(", "))
                    },
                );
                e.seats = Some(seats.iter().map(|s| s.0).collect());
                e
            }
            Rejection::TooManySeats { max } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "too-many-seats",
                "Too many seats",
                format!("a hold takes between 1 and {max} seats"),
            ),
            Rejection::DuplicateSeat => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "duplicate-seat",
                "Seat named twice",
                "each seat may appear once in a hold",
            ),
            Rejection::BadHolders => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "bad-holders",
                "Bad seat assignment",
                "holders must be empty or name one person per seat",
            ),
            Rejection::NoAdjacentSeats => conflict(
                "no-adjacent-seats",
                "No adjacent seats",
                "no row in that area has that many free seats side by side".into(),
            ),
            Rejection::UnknownSection => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, "unknown-section", "Unknown section", "no such section or tier")
            }
            Rejection::SeatNotInOrder => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "seat-not-in-order",
                "Seat not in this order",
                "that seat is not part of this hold or order",
            ),
            Rejection::FriendLimitReached { friend, remaining } => conflict(
                "friend-limit-reached",
                "A friend's limit reached",
                format!("user {} may take {remaining} more seats in this sale", friend.0),
            ),
            Rejection::EditNotAllowed { field } => conflict(
                "edit-not-allowed",
                "Fixed since opening",
                format!("{} cannot change once the sale has opened (or, for the closing time, closed)", field.as_str()),
            ),
            Rejection::BadSchedule => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "bad-schedule",
                "Impossible times",
                "a new opening or closing time must lie ahead, and the closing after the opening",
            ),
            Rejection::SaleArchived => conflict("sale-archived", "Sale deleted", "the sale was deleted".into()),
            Rejection::SaleHasOrders => conflict(
                "sale-has-orders",
                "Sale has buyers",
                "someone holds or bought from this sale, so it cannot be deleted; close it instead".into(),
            ),
            Rejection::BadTerms { field } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "bad-terms",
                "Impossible terms",
                format!("{field} is outside what a sale can run on"),
            ),
            Rejection::TicketUsed => conflict(
                "ticket-used",
                "Ticket already used",
                "a ticket of this order was let in at the gate; what was used cannot be given back".into(),
            ),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::UnknownSale => ApiError::not_found("no such sale"),
            EngineError::Overloaded => ApiError::overloaded("the sale's mailbox is full; retry with the same key"),
            EngineError::Unavailable => ApiError::unavailable(),
            EngineError::Behind => ApiError::overloaded("the sale is catching up with the time; retry shortly"),
            EngineError::BadTerms(p) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad-terms",
                "Impossible terms",
                format!("{p}: a sale cannot run on these terms"),
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use StatusCode as S;
        match e {
            StoreError::InvalidEmail => ApiError::invalid_field(
                "email must look like name@example.com, 3-254 characters, without spaces or invisible characters",
            ),
            StoreError::InvalidPassword => ApiError::invalid_field("password must be 8-128 characters"),
            StoreError::WeakPassword(why) => {
                let mut e = ApiError::new(
                    S::UNPROCESSABLE_ENTITY,
                    "weak-password",
                    "Password too easy to guess",
                    format!("choose another password: {}", why.message()),
                );
                e.reason = Some(why.code());
                e
            }
            StoreError::InvalidName => ApiError::invalid_field(
                "name must be 1-64 characters that show something, without control, invisible or direction-changing characters",
            ),
            StoreError::EmailTaken => {
                ApiError::new(S::CONFLICT, "email-taken", "Email taken", "an account with that email exists")
            }
            StoreError::UnknownAccount => ApiError::new(
                S::NOT_FOUND,
                "unknown-account",
                "No such account",
                "there is no account with that email; sign up first",
            ),
            StoreError::WrongPassword => {
                ApiError::new(S::UNAUTHORIZED, "wrong-password", "Wrong password", "the password does not match")
            }
            StoreError::UnknownUser => ApiError::not_found("no such user"),
            StoreError::InvalidCount => ApiError::invalid_field("count must be 1..=10000"),
            StoreError::InvalidLabel => ApiError::invalid_field(
                "label must be at most 64 characters, without control, invisible or direction-changing characters",
            ),
            StoreError::InvalidTokenLifetime => {
                ApiError::invalid_field("expires_in must be 60 to 31622400 seconds (1 minute to 366 days)")
            }
            StoreError::UnknownToken => ApiError::not_found("you have no token with that id"),
            StoreError::InvalidPrefix => {
                ApiError::invalid_field("name_prefix must be 1-32 characters of A-Z a-z 0-9 - _")
            }
            StoreError::InvalidRole => ApiError::invalid_field("role must be participant, organizer or admin"),
            StoreError::TooManyTokens { max } => ApiError::new(
                S::CONFLICT,
                "too-many-tokens",
                "Too many tokens",
                format!(
                    "this account has {max} live tokens, the most allowed: list them with GET /api/auth/tokens and \
                     revoke one with DELETE /api/auth/tokens/{{id}} (tokens given an expires_in free their place when they expire)"
                ),
            ),
            StoreError::CannotBefriendSelf => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "cannot-befriend-self",
                "Cannot befriend yourself",
                "a friend request must name someone else",
            ),
            StoreError::AlreadyFriends => {
                ApiError::new(S::CONFLICT, "already-friends", "Already friends", "you are friends already")
            }
            StoreError::FriendRequestExists => ApiError::new(
                S::CONFLICT,
                "friend-request-exists",
                "Already requested",
                "your friend request to this person is still waiting for an answer",
            ),
            StoreError::NoFriendRequest => ApiError::not_found("no pending friend request from that user"),
            StoreError::NotFriends => {
                ApiError::not_found("that user is not your friend and has no pending request from you")
            }
            StoreError::TooManyFriends { user, max } => ApiError::new(
                S::CONFLICT,
                "friend-limit",
                "Friend limit reached",
                format!("user {user} already has the most friends allowed ({max})"),
            ),
            StoreError::TooManyFriendRequests { max } => ApiError::new(
                S::CONFLICT,
                "friend-limit",
                "Friend limit reached",
                format!("you have {max} friend requests waiting, the most allowed; wait for answers or withdraw some"),
            ),
            StoreError::InvalidVenue(reason) => ApiError::invalid_field(format!("venue: {reason}")),
            StoreError::TooManyVenues { max } => ApiError::new(
                S::CONFLICT,
                "too-many-venues",
                "Too many venues",
                format!("you have {max} venues, the most allowed; delete one first"),
            ),
            StoreError::UnknownVenue => ApiError::not_found("no such venue"),
            other if other.is_disk_full() => {
                tracing::error!(error = %other, "the account store's disk is full");
                ApiError::storage_full()
            }
            other => ApiError::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: self.kind(),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail,
            seats: self.seats.map(Vec::from),
            field: self.field.as_ref().map(|f| f.field.clone()),
            rule: self.field.as_ref().map(|f| f.rule),
            min: self.field.as_ref().and_then(|f| f.min.clone()),
            max: self.field.as_ref().and_then(|f| f.max.clone()),
            sections: self.rare.as_ref().and_then(|r| r.sections.as_ref()).map(|s| s.to_vec()),
            reason: self.reason,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut res = (self.status, bytes).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after_s {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(value) = self.rare.and_then(|r| r.receipt) {
            res.headers_mut().insert(RECEIPT_HEADER, value);
        }
        res
    }
}
