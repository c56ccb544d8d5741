//! Tickets and the doors: a buyer's tickets with their signed QR text,
//! handing a ticket to a friend, and check-in at the gate (an online scan, an
//! offline gate's sync, and the kit an offline gate keeps: the sale's ticket
//! key and its signed revocation list).
//!
//! The sale issues and revokes tickets itself as orders are paid and
//! refunded (`stampede_core::checkin`); scans and transfers are commands of
//! the sale, logged like a hold, so a ticket is let in once whichever gate
//! scans it. Lists read the projections (`stampede_views` `tickets`), and a
//! ticket's QR text is signed on the way out with the sale's ticket key
//! ([`crate::pass::PassKeys::ticket_key`]), never stored.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use stampede_core::{
    Action, CheckinOutcome, CheckinRefusal, GateId, KindConfig, OfflineScan, Outcome, Revocation, RevocationList,
    SYNC_SCANS_MAX, SaleConfig, ScanVerdict, SeatId, SignedTicket, TICKET_QR_LEN_MAX, TicketAction, TicketId,
    TicketPayload, TicketPlace,
};
use stampede_engine::SaleHandle;
use stampede_views::{TicketRow, TicketState};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth, IdemKey, parse_id};
use crate::problem::{ApiError, Problem};
use crate::routes::common::wire::fmt_us;
use crate::routes::common::{ReceiptHeader, check_friends, command, require_owner, sale_handle};

/// Most tickets one list answers.
pub const TICKETS_LIST_MAX: usize = 500;
/// Longest gate name a gate may give.
pub const GATE_NAME_LEN_MAX: usize = 64;

/// Where a ticket lets its holder in.
#[derive(Serialize, ToSchema)]
pub struct PlaceOut {
    /// A seat's name (`A-12` in section `Floor`), when the sale has seats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_id: Option<u32>,
    /// The unit's number within its order, when the sale has no seats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketOut {
    pub sale_id: u64,
    pub sale_title: String,
    pub ticket: u64,
    /// The order (hold number) that paid for it.
    pub order: u64,
    pub place: PlaceOut,
    pub holder_id: u64,
    pub holder: String,
    /// 1 when issued; each transfer issues the next and revokes the one before.
    pub generation: u32,
    /// `valid`, `admitted` or `revoked`.
    pub state: &'static str,
    pub issued_at: String,
    pub changed_at: String,
    /// The signed ticket as the QR code carries it (RFC 4648 base32): only
    /// for its holder, and only while it is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketsOut {
    pub tickets: Vec<TicketOut>,
}

/// A seat's name for people: `section row-seat`.
pub fn seat_name(config: &SaleConfig, seat: SeatId) -> Option<String> {
    let KindConfig::Seated(seated) = &config.kind else { return None };
    let mut left = seat.0 as usize;
    for section in &seated.venue.sections {
        for row in &section.rows {
            if left < row.seats.len() {
                let label = &row.seats[left].label;
                return Some(format!("{} {}-{label}", section.name, row.label));
            }
            left -= row.seats.len();
        }
    }
    None
}

fn place_out(config: &SaleConfig, place: TicketPlace) -> PlaceOut {
    match place {
        TicketPlace::Unit(n) => PlaceOut { seat: None, seat_id: None, unit: Some(n) },
        TicketPlace::Seat(s) => PlaceOut { seat: seat_name(config, s), seat_id: Some(s.0), unit: None },
    }
}

/// The payload a ticket row's latest generation signs.
fn payload_of(row: &TicketRow) -> TicketPayload {
    TicketPayload {
        sale: row.sale,
        ticket: TicketId(row.ticket),
        place: row.place,
        holder: stampede_core::UserId(row.holder),
        generation: row.generation,
    }
}

fn name_of(state: &AppState, user: u64) -> String {
    state.store.user(stampede_store::UserId(user)).map(|u| u.name).unwrap_or_default()
}

/// A ticket for `viewer`: the QR text only when they hold it and it is valid.
pub fn ticket_out(state: &AppState, row: &TicketRow, viewer: u64) -> TicketOut {
    let config = state.engine.sale(row.sale).map(|s| s.config.clone());
    let qr = (row.state == TicketState::Valid && row.holder == viewer)
        .then(|| SignedTicket::sign(payload_of(row), &state.passes.ticket_key(row.sale)).to_qr_text());
    TicketOut {
        sale_id: row.sale,
        sale_title: config.as_ref().map(|c| c.title.clone()).unwrap_or_default(),
        ticket: row.ticket,
        order: row.order,
        place: match &config {
            Some(c) => place_out(c, row.place),
            None => PlaceOut { seat: None, seat_id: None, unit: None },
        },
        holder_id: row.holder,
        holder: name_of(state, row.holder),
        generation: row.generation,
        state: row.state.as_str(),
        issued_at: fmt_us(row.issued_at_us),
        changed_at: fmt_us(row.changed_at_us),
        qr,
    }
}

/// My tickets, in every sale, newest sale first.
#[utoipa::path(get, path = "/api/me/tickets", tag = "tickets",
    responses((status = 200, body = TicketsOut), (status = 401, body = Problem)))]
pub async fn my_tickets(State(state): State<AppState>, auth: Auth) -> Result<Json<TicketsOut>, ApiError> {
    let me = auth.user.id.0;
    let rows = crate::projections::read(&state, move |v| v.tickets_of(me)).await?;
    let tickets = rows.iter().take(TICKETS_LIST_MAX).map(|r| ticket_out(&state, r, me)).collect();
    Ok(Json(TicketsOut { tickets }))
}

/// The ticket a path names, for its holder or the sale's organizer; 404 for
/// anyone else (whether it exists is nobody else's business).
pub async fn visible_ticket(
    state: &AppState,
    auth: &Auth,
    sale: &str,
    ticket: &str,
) -> Result<(SaleHandle, TicketRow), ApiError> {
    let sale = sale_handle(state, sale)?;
    let id = parse_id(ticket, "ticket")?;
    let sale_id = sale.id;
    let row = crate::projections::read(state, move |v| v.ticket(sale_id, id)).await?;
    match row {
        Some(row) if row.holder == auth.user.id.0 || require_owner(auth, &sale).is_ok() => Ok((sale, row)),
        _ => Err(ApiError::not_found("no such ticket")),
    }
}

/// One ticket: its holder sees its QR text.
#[utoipa::path(get, path = "/api/sales/{id}/tickets/{ticket}", tag = "tickets",
    params(("id" = u64, Path), ("ticket" = u64, Path)),
    responses((status = 200, body = TicketOut), (status = 404, body = Problem)))]
pub async fn ticket(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((sale, ticket)): ApiPath<(String, String)>,
) -> Result<Json<TicketOut>, ApiError> {
    let (_, row) = visible_ticket(&state, &auth, &sale, &ticket).await?;
    Ok(Json(ticket_out(&state, &row, auth.user.id.0)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferIn {
    /// The friend who gets the ticket (a user id).
    pub to: u64,
}

/// Hand a ticket to a friend: they get a new generation, the old QR code is
/// revoked at once (online gates) and on the next revocation list (offline ones).
#[utoipa::path(post, path = "/api/sales/{id}/tickets/{ticket}/transfer", tag = "tickets",
    params(("id" = u64, Path), ("ticket" = u64, Path)), request_body = TransferIn,
    responses((status = 200, body = TicketOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn transfer(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, ticket)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<TransferIn>,
) -> Result<(ReceiptHeader, Json<TicketOut>), ApiError> {
    let (sale, row) = visible_ticket(&state, &auth, &sale, &ticket).await?;
    let me = auth.user.id.0;
    if row.holder != me {
        return Err(ApiError::forbidden("only the ticket's holder may hand it on"));
    }
    if body.to == me {
        return Err(ApiError::invalid_field("the ticket is yours already").with_field("to", "self", None, None));
    }
    if state.store.user(stampede_store::UserId(body.to)).is_none() {
        return Err(ApiError::not_found("no such user"));
    }
    check_friends(&state, me, &[body.to]).await?;
    let action =
        Action::Ticket(TicketAction::Transfer { ticket: TicketId(row.ticket), to: stampede_core::UserId(body.to) });
    match command(&state, &sale, &auth, key, action).await? {
        (Outcome::Ticket(CheckinOutcome::Transferred { ticket, .. }), receipt) => {
            let moved = TicketRow {
                holder: ticket.holder.0,
                generation: ticket.generation,
                changed_at_us: state.engine.now_us(),
                ..row
            };
            Ok((receipt, Json(ticket_out(&state, &moved, me))))
        }
        (Outcome::Ticket(CheckinOutcome::Refused(r)), _) => Err(refusal(r)),
        (other, _) => Err(crate::routes::common::unexpected(&other)),
    }
}

fn refusal(r: CheckinRefusal) -> ApiError {
    use axum::http::StatusCode as S;
    let detail = match r {
        CheckinRefusal::Revoked { .. } => "the ticket was refunded".to_owned(),
        CheckinRefusal::AlreadyAdmitted { .. } => "the ticket was used at the gate".to_owned(),
        CheckinRefusal::TooManyGenerations => "this ticket has changed hands too often".to_owned(),
        CheckinRefusal::NotHolder => "only the ticket's holder may hand it on".to_owned(),
        other => format!("the ticket cannot be handed on ({})", other.code()),
    };
    ApiError::new(S::CONFLICT, r.code(), "Ticket not transferable", detail)
}

/// May run the doors of `sale`: its organizer (or an admin), or staff the
/// organizer named for this sale (`routes::staff`), and nobody else. The
/// staff check reads the store's memory, so it costs a scan nothing.
pub fn may_run_gates(state: &AppState, auth: &Auth, sale: &SaleHandle) -> bool {
    require_owner(auth, sale).is_ok()
        || (auth.user.id != crate::extract::OPERATOR_ID && state.store.is_staff(sale.id, auth.user.id))
}

/// [`may_run_gates`], else 403.
pub fn require_gate(state: &AppState, auth: &Auth, sale: &SaleHandle) -> Result<(), ApiError> {
    if may_run_gates(state, auth, sale) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only the sale's organizer or its staff run its gates"))
    }
}

/// What an offline gate keeps.
#[derive(Serialize, ToSchema)]
pub struct GateKitOut {
    pub sale: u64,
    /// base64url of the sale's 32-byte ed25519 ticket key.
    pub public_key: String,
    /// base64url of the signed revocation list (format in docs/API.md).
    pub revocations: String,
    /// Rises with every refund and transfer: a gate with a lower one is behind.
    pub revision: u64,
    /// Tickets not revoked, and those let in.
    pub tickets: u64,
    pub admitted: u64,
}

/// The signed revocation list of a sale, from the projections: each ticket
/// refunded, or transferred (every generation below its latest).
pub async fn revocation_list(state: &AppState, sale: u64) -> Result<RevocationList, ApiError> {
    let rows = crate::projections::read(state, move |v| v.revoked_tickets(sale)).await?;
    let mut revision = 0u64;
    let mut revocations = Vec::with_capacity(rows.len());
    for row in rows {
        revision += u64::from(row.generation.saturating_sub(1));
        if row.state == TicketState::Revoked {
            revision += 1;
            revocations.push((TicketId(row.ticket), Revocation::Refunded));
        } else {
            revocations.push((TicketId(row.ticket), Revocation::Superseded { generation: row.generation }));
        }
    }
    Ok(RevocationList { sale, revision, revocations })
}

/// The kit a gate keeps for working offline.
#[utoipa::path(get, path = "/api/sales/{id}/gate-kit", tag = "tickets", params(("id" = u64, Path)),
    responses((status = 200, body = GateKitOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn gate_kit(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GateKitOut>, ApiError> {
    let sale = sale_handle(&state, &id)?;
    require_gate(&state, &auth, &sale)?;
    let list = revocation_list(&state, sale.id).await?;
    let sale_id = sale.id;
    let (tickets, admitted) = crate::projections::read(&state, move |v| v.checkin_progress(sale_id)).await?;
    let key = state.passes.ticket_key(sale.id);
    Ok(Json(GateKitOut {
        sale: sale.id,
        public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
        revocations: URL_SAFE_NO_PAD.encode(list.sign(&key)),
        revision: list.revision,
        tickets,
        admitted,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinIn {
    /// The QR code's text as read (lower case is read as upper case).
    pub qr: String,
    /// The gate's own number (any integer it chose, up to 2^53).
    #[schema(maximum = 9_007_199_254_740_991_u64)]
    pub gate: u64,
    #[serde(default)]
    pub gate_name: Option<String>,
}

/// Admit or refuse, with what the staff at the door need to see.
#[derive(Serialize, ToSchema)]
pub struct CheckinOut {
    /// `admitted` or `refused`.
    pub verdict: &'static str,
    /// Why not: `already-admitted`, `ticket-revoked`, `ticket-superseded`,
    /// `unknown-ticket`, `wrong-sale` or `bad-signature`.
    pub reason: Option<&'static str>,
    pub ticket: Option<u64>,
    pub place: Option<PlaceOut>,
    pub holder: Option<String>,
    /// When and at which gate it went in (now, or the first time).
    pub admitted_at: Option<String>,
    pub admitted_gate: Option<u64>,
}

const JS_SAFE_MAX: u64 = (1 << 53) - 1;

fn gate_of(gate: u64, name: Option<&str>) -> Result<GateId, ApiError> {
    if gate > JS_SAFE_MAX {
        return Err(ApiError::out_of_range("gate", 0, JS_SAFE_MAX as i64));
    }
    if name.is_some_and(|n| n.chars().count() > GATE_NAME_LEN_MAX || n.chars().any(char::is_control)) {
        return Err(ApiError::invalid_field(format!(
            "gate_name is at most {GATE_NAME_LEN_MAX} characters without control characters"
        )));
    }
    Ok(GateId(gate))
}

/// Reads a QR text for this sale: its signature checked with the sale's key.
fn open_qr(state: &AppState, sale: u64, qr: &str) -> Result<TicketPayload, &'static str> {
    if qr.len() > TICKET_QR_LEN_MAX * 2 {
        return Err("unknown-ticket");
    }
    let text = qr.trim().to_ascii_uppercase();
    let key = state.passes.ticket_key(sale).verifying_key();
    match SignedTicket::open_qr_text(&text, &key) {
        Ok(t) if t.payload().sale == sale => Ok(*t.payload()),
        // A ticket of another sale does not verify under this sale's key.
        Ok(_) => Err("wrong-sale"),
        Err(stampede_core::TicketError::BadSignature) => Err("bad-signature"),
        Err(_) => Err("unknown-ticket"),
    }
}

fn refused(reason: &'static str) -> CheckinOut {
    CheckinOut {
        verdict: "refused",
        reason: Some(reason),
        ticket: None,
        place: None,
        holder: None,
        admitted_at: None,
        admitted_gate: None,
    }
}

/// Scan a ticket at a gate that is online: it is let in once, whichever gate
/// scans it; a second scan is refused with when and where it went in.
#[utoipa::path(post, path = "/api/sales/{id}/checkin", tag = "tickets", params(("id" = u64, Path)),
    request_body = CheckinIn,
    responses((status = 200, body = CheckinOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn checkin(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CheckinIn>,
) -> Result<(ReceiptHeader, Json<CheckinOut>), ApiError> {
    let sale = sale_handle(&state, &id)?;
    require_gate(&state, &auth, &sale)?;
    let gate = gate_of(body.gate, body.gate_name.as_deref())?;
    let payload = match open_qr(&state, sale.id, &body.qr) {
        Ok(p) => p,
        Err(reason) => return Ok((ReceiptHeader(None), Json(refused(reason)))),
    };
    let config = sale.config.clone();
    let seen = |ticket: TicketId| CheckinOut {
        verdict: "refused",
        reason: None,
        ticket: Some(ticket.0),
        place: Some(place_out(&config, payload.place)),
        holder: Some(name_of(&state, payload.holder.0)),
        admitted_at: None,
        admitted_gate: None,
    };
    let action = Action::Ticket(TicketAction::Admit { gate, ticket: payload });
    let (outcome, receipt) = command(&state, &sale, &auth, key, action).await?;
    let out = match outcome {
        Outcome::Ticket(CheckinOutcome::Admitted(a)) => CheckinOut {
            verdict: "admitted",
            admitted_at: Some(fmt_us(a.at_us)),
            admitted_gate: Some(a.gate.0),
            ..seen(a.ticket)
        },
        Outcome::Ticket(CheckinOutcome::Refused(r)) => {
            let (at, gate) = match r {
                CheckinRefusal::AlreadyAdmitted { at_us, gate } => (Some(fmt_us(at_us)), Some(gate.0)),
                _ => (None, None),
            };
            CheckinOut { reason: Some(r.code()), admitted_at: at, admitted_gate: gate, ..seen(payload.ticket) }
        }
        other => return Err(crate::routes::common::unexpected(&other)),
    };
    Ok((receipt, Json(out)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanIn {
    /// Chosen by the gate, unique among its scans (up to 2^53).
    #[schema(maximum = 9_007_199_254_740_991_u64)]
    pub nonce: u64,
    /// The gate's clock when it let the person in, microseconds since the epoch.
    #[schema(minimum = 0)]
    pub scanned_at_us: i64,
    pub qr: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncIn {
    #[schema(maximum = 9_007_199_254_740_991_u64)]
    pub gate: u64,
    #[serde(default)]
    pub gate_name: Option<String>,
    /// At most 1,000; a gate with more sends several.
    pub scans: Vec<ScanIn>,
}

#[derive(Serialize, ToSchema)]
pub struct VerdictOut {
    /// `admitted` (recorded as the ticket's admission), `conflict` (someone
    /// went in who should not have: listed for the organizer),
    /// `nonce-reused` (this gate sent another scan under this nonce), or
    /// `unreadable` (not a ticket of this sale: listed nowhere).
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct SyncOut {
    pub verdicts: Vec<VerdictOut>,
}

/// An offline gate, back online, reports whom it let in. Each scan is
/// recorded as the ticket's admission or, when the ticket was already used,
/// revoked or superseded, as a conflict the organizer sees. Sending the same
/// scans again changes nothing.
#[utoipa::path(post, path = "/api/sales/{id}/checkin/sync", tag = "tickets", params(("id" = u64, Path)),
    request_body = SyncIn,
    responses((status = 200, body = SyncOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn checkin_sync(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SyncIn>,
) -> Result<(ReceiptHeader, Json<SyncOut>), ApiError> {
    let sale = sale_handle(&state, &id)?;
    require_gate(&state, &auth, &sale)?;
    let gate = gate_of(body.gate, body.gate_name.as_deref())?;
    if body.scans.is_empty() || body.scans.len() > SYNC_SCANS_MAX {
        return Err(ApiError::invalid_field(format!("scans must hold 1 to {SYNC_SCANS_MAX} scans")));
    }
    let mut readable = Vec::with_capacity(body.scans.len());
    let mut verdicts: Vec<Option<VerdictOut>> = Vec::with_capacity(body.scans.len());
    for scan in &body.scans {
        if scan.nonce > JS_SAFE_MAX {
            return Err(ApiError::out_of_range("nonce", 0, JS_SAFE_MAX as i64));
        }
        if scan.scanned_at_us < 0 {
            return Err(ApiError::out_of_range("scanned_at_us", 0, i64::MAX));
        }
        match open_qr(&state, sale.id, &scan.qr) {
            Ok(ticket) => {
                readable.push(OfflineScan { nonce: scan.nonce, scanned_at_us: scan.scanned_at_us, ticket });
                verdicts.push(None);
            }
            Err(reason) => verdicts.push(Some(VerdictOut { verdict: "unreadable", reason: Some(reason) })),
        }
    }
    let mut receipt = ReceiptHeader(None);
    let mut answered = Vec::new();
    if !readable.is_empty() {
        let action = Action::Ticket(TicketAction::Sync { gate, scans: readable });
        match command(&state, &sale, &auth, key, action).await? {
            (Outcome::Ticket(CheckinOutcome::Synced(v)), r) => {
                answered = v;
                receipt = r;
            }
            (Outcome::Ticket(CheckinOutcome::Refused(r)), _) => {
                return Err(ApiError::invalid_field(format!("the sale refused the sync ({})", r.code())));
            }
            (other, _) => return Err(crate::routes::common::unexpected(&other)),
        }
    }
    let mut answered = answered.into_iter();
    let verdicts = verdicts
        .into_iter()
        .map(|v| {
            v.unwrap_or_else(|| match answered.next() {
                Some(ScanVerdict::Admitted) => VerdictOut { verdict: "admitted", reason: None },
                Some(ScanVerdict::Conflict(r)) => VerdictOut { verdict: "conflict", reason: Some(r.code()) },
                Some(ScanVerdict::NonceReused) | None => VerdictOut { verdict: "nonce-reused", reason: None },
            })
        })
        .collect();
    Ok((receipt, Json(SyncOut { verdicts })))
}

#[derive(Serialize, ToSchema)]
pub struct ConflictOut {
    pub gate: u64,
    pub ticket: u64,
    pub holder: String,
    /// Why the sale would have refused it.
    pub reason: String,
    pub scanned_at: String,
    pub synced_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckinProgressOut {
    /// Tickets not revoked.
    pub tickets: u64,
    pub admitted: u64,
    /// Offline admissions that should not have happened, oldest first.
    pub conflicts: Vec<ConflictOut>,
}

/// Check-in progress and conflicts, for the organizer's dashboard.
#[utoipa::path(get, path = "/api/sales/{id}/checkin", tag = "tickets", params(("id" = u64, Path)),
    responses((status = 200, body = CheckinProgressOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn checkin_progress(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CheckinProgressOut>, ApiError> {
    let sale = sale_handle(&state, &id)?;
    require_gate(&state, &auth, &sale)?;
    let sale_id = sale.id;
    let ((tickets, admitted), conflicts) =
        crate::projections::read(&state, move |v| Ok((v.checkin_progress(sale_id)?, v.conflicts_of(sale_id)?))).await?;
    let conflicts = conflicts
        .iter()
        .map(|c| ConflictOut {
            gate: c.gate,
            ticket: c.ticket,
            holder: name_of(&state, c.holder),
            reason: c.reason.clone(),
            scanned_at: fmt_us(c.scanned_at_us),
            synced_at: fmt_us(c.synced_at_us),
        })
        .collect();
    Ok(Json(CheckinProgressOut { tickets, admitted, conflicts }))
}
