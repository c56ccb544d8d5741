//! Sales: creating and running them (organizers), buying and clicking
//! (participants), and what anyone may read.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use stampede_core::{
    Action, AdmissionPolicy, DropAction, DropConfig, DropOutcome, HoldStatus, KindConfig, Money, OrderRef, Outcome,
    POW_BITS_MAX, QueueConfig, SaleConfig, SaleEdit, SeatedTerms, StockAction, StockConfig, StockOutcome, TermsEdit,
    US_PER_S, UserId,
};
use stampede_engine::SaleHandle;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, IdemKey, SalePass};
use crate::problem::{ApiError, Problem};
// The bounds every kind of sale shares live with the shared route pieces;
// named here too, where the sale rules are read (the OpenAPI test reads them here).
use crate::routes::common::present::*;
use crate::routes::common::seated::{SEATS_PER_HOLD_LIMIT, resolve_venue_id, seated_config};
use crate::routes::common::wire::*;
pub use crate::routes::common::{HOLD_SECONDS_MAX, HOLD_SECONDS_MIN, PER_PERSON_MAX};
use crate::routes::common::{
    HoldAnswer, HoldVerb, ReceiptHeader, blocking, command, in_range, require_owner, sale_handle as handle,
    settle_hold, unexpected,
};

pub mod wire;
use wire::*;

/// Bounds on what an organizer may ask for, each named. The ranges the rules
/// themselves need are the core's (`SaleConfig::check`, which the engine and
/// replay apply too); these name them for the API and add its own policy.
pub const TITLE_LEN_MAX: usize = 200;
pub const DESCRIPTION_LEN_MAX: usize = 4000;
pub const STOCK_MAX: i64 = stampede_core::STOCK_MAX as i64;
pub const WINNERS_MAX: i64 = stampede_core::WINNERS_MAX as i64;
pub const PRICE_MAX: i64 = stampede_core::PRICE_MAX as i64;
/// Most rows in one listing page.
pub const PAGE_LEN_MAX: usize = 10_000;
pub const LEADERBOARD_PAGE_MAX: usize = 1000;
pub const CHUNK_SIZE_MAX: i64 = stampede_core::ADMISSIONS_MAX as i64;
pub const CHUNK_SECONDS_MIN: f64 = 0.05;
pub const CHUNK_SECONDS_MAX: f64 = 3600.0;
pub const ACTIVE_MAX: i64 = stampede_core::ADMISSIONS_MAX as i64;
pub const PASS_SECONDS_DEFAULT: i64 = 600;
pub const POW_BITS_DEFAULT: i64 = 16;
pub const PLACES_PER_ADDRESS_DEFAULT: i64 = 16;
pub const PLACES_PER_ADDRESS_MAX: i64 = stampede_core::PLACES_PER_ADDRESS_MAX as i64;
/// How far in the past a new sale's opening or closing time may lie: room for
/// a form filled in slowly and for the organizer's clock running behind.
pub const WINDOW_PAST_TOLERANCE_US: i64 = 5 * 60 * US_PER_S;

fn queue_config(req: Option<WaitingRoomRequest>) -> Result<Option<QueueConfig>, ApiError> {
    let Some(req) = req else { return Ok(None) };
    let as_u32 = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    let policy = match req.policy.as_str() {
        "chunk" => {
            let size = in_range(req.chunk_size.unwrap_or(100), 1, CHUNK_SIZE_MAX, "waiting_room.chunk_size")?;
            let seconds = req.chunk_seconds.unwrap_or(1.0);
            if !(CHUNK_SECONDS_MIN..=CHUNK_SECONDS_MAX).contains(&seconds) {
                return Err(ApiError::out_of_range("waiting_room.chunk_seconds", CHUNK_SECONDS_MIN, CHUNK_SECONDS_MAX));
            }
            AdmissionPolicy::Chunk { size: as_u32(size), every_us: (seconds * US_PER_S as f64).round() as i64 }
        }
        "active" => {
            let max = in_range(req.active_max.unwrap_or(500), 1, ACTIVE_MAX, "waiting_room.active_max")?;
            AdmissionPolicy::Active { max: as_u32(max) }
        }
        _ => return Err(ApiError::bad_format("waiting_room.policy", "waiting_room.policy must be chunk or active")),
    };
    let pass_seconds = in_range(
        req.pass_seconds.unwrap_or(PASS_SECONDS_DEFAULT),
        HOLD_SECONDS_MIN,
        HOLD_SECONDS_MAX,
        "waiting_room.pass_seconds",
    )?;
    let pow_bits =
        in_range(req.pow_bits.unwrap_or(POW_BITS_DEFAULT), 0, i64::from(POW_BITS_MAX), "waiting_room.pow_bits")?;
    let places = in_range(
        req.places_per_address.unwrap_or(PLACES_PER_ADDRESS_DEFAULT),
        1,
        PLACES_PER_ADDRESS_MAX,
        "waiting_room.places_per_address",
    )?;
    let prequeue_opens_at_us =
        req.prequeue_opens_at.as_deref().map(|t| parse_time(t, "waiting_room.prequeue_opens_at")).transpose()?;
    // The seed decides the pre-queue's order; only its hash is shown until opening.
    let mut seed = [0u8; 32];
    rand::fill(&mut seed[..]);
    Ok(Some(QueueConfig {
        policy,
        pass_ttl_us: pass_seconds * US_PER_S,
        prequeue_opens_at_us,
        pow_bits: u8::try_from(pow_bits).unwrap_or(POW_BITS_MAX),
        places_per_address: as_u32(places),
        seed,
        pass_up_to_limit: true,
    }))
}

/// A title (required: one line that shows something) or a description
/// (optional: may have line breaks), through the one rule for text people
/// see (`stampede_core::text`: NFC, no control, format or bidi characters).
/// Selling out must not overflow: then no order and no revenue can.
fn sellout_fits(stock: u64, price: u64) -> Result<(), ApiError> {
    if Money::from_minor(price).checked_mul(stock).is_none() {
        return Err(ApiError::bad_format(
            "price",
            format!("stock × price must be at most {} (the whole sale's revenue)", u64::MAX),
        ));
    }
    Ok(())
}

fn check_text(v: &str, max: usize, field: &str, required: bool) -> Result<String, ApiError> {
    use stampede_core::text::{TextError, clean_line, clean_paragraphs};
    let cleaned = if required { clean_line(v, max, true) } else { clean_paragraphs(v, max, false) };
    cleaned.map_err(|e| match e {
        TextError::Blank | TextError::TooLong { .. } => {
            let least = if required { 1 } else { 0 };
            ApiError::bad_length(field, least, max)
        }
        TextError::Forbidden { .. } => ApiError::bad_format(field, format!("{field} {e}")),
    })
}

/// A new sale's opening and closing times: both in the future (give or take
/// [`WINDOW_PAST_TOLERANCE_US`]; leave `opens_at` out to open by hand), closing after opening.
/// The page languages a sale's text may be given in.
pub const TEXT_LANGS: [&str; 2] = ["ko", "en"];

fn check_translations(
    texts: std::collections::BTreeMap<String, SaleTextRequest>,
) -> Result<Vec<stampede_core::SaleText>, ApiError> {
    texts
        .into_iter()
        .map(|(lang, t)| {
            if !TEXT_LANGS.contains(&lang.as_str()) {
                return Err(ApiError::bad_format(
                    "translations",
                    format!("translations: {lang:?} is not a page language; use ko or en"),
                ));
            }
            Ok(stampede_core::SaleText {
                title: check_text(&t.title, TITLE_LEN_MAX, &format!("translations.{lang}.title"), true)?,
                description: check_text(
                    &t.description,
                    DESCRIPTION_LEN_MAX,
                    &format!("translations.{lang}.description"),
                    false,
                )?,
                lang,
            })
        })
        .collect()
}

fn window(opens: Option<String>, closes: Option<String>, now_us: i64) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let opens = opens.as_deref().map(|s| parse_time(s, "opens_at")).transpose()?;
    let closes = closes.as_deref().map(|s| parse_time(s, "closes_at")).transpose()?;
    let earliest = now_us.saturating_sub(WINDOW_PAST_TOLERANCE_US);
    for (field, at) in [("opens_at", opens), ("closes_at", closes)] {
        if at.is_some_and(|at| at < earliest) {
            return Err(ApiError::invalid_field(format!(
                "{field} is in the past; give a time after {} or leave opens_at out and open the sale by hand",
                fmt_us(earliest)
            ))
            .with_field(field, "future", None, None));
        }
    }
    if let (Some(o), Some(c)) = (opens, closes)
        && c <= o
    {
        return Err(ApiError::invalid_field("closes_at must be after opens_at").with_field(
            "closes_at",
            "after",
            None,
            None,
        ));
    }
    Ok((opens, closes))
}

fn sale_config(req: CreateSaleRequest, owner: UserId, now_us: i64) -> Result<SaleConfig, ApiError> {
    let as_u32 = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    let as_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
    match req {
        CreateSaleRequest::Stock {
            title,
            description,
            translations,
            stock,
            price,
            currency,
            per_person_limit,
            order_quantity_max,
            hold_seconds,
            opens_at,
            closes_at,
            waiting_room,
        } => {
            let currency = check_currency(&currency)?;
            let (opens_at_us, closes_at_us) = window(opens_at, closes_at, now_us)?;
            let stock = as_u64(in_range(stock, 1, STOCK_MAX, "stock")?);
            let price = as_u64(in_range(price, 0, PRICE_MAX, "price")?);
            sellout_fits(stock, price)?;
            Ok(SaleConfig {
                title: check_text(&title, TITLE_LEN_MAX, "title", true)?,
                description: check_text(&description, DESCRIPTION_LEN_MAX, "description", false)?,
                translations: check_translations(translations)?,
                owner,
                currency,
                opens_at_us,
                closes_at_us,
                kind: KindConfig::Stock(StockConfig {
                    stock,
                    price,
                    per_person_limit: as_u32(in_range(per_person_limit, 1, PER_PERSON_MAX, "per_person_limit")?),
                    order_quantity_max: as_u32(in_range(order_quantity_max, 1, PER_PERSON_MAX, "order_quantity_max")?),
                    hold_ttl_us: in_range(hold_seconds, HOLD_SECONDS_MIN, HOLD_SECONDS_MAX, "hold_seconds")? * US_PER_S,
                }),
                queue: queue_config(waiting_room)?,
            })
        }
        CreateSaleRequest::Seated {
            title,
            description,
            translations,
            currency,
            seated,
            opens_at,
            closes_at,
            waiting_room,
        } => {
            let currency = check_currency(&currency)?;
            let (opens_at_us, closes_at_us) = window(opens_at, closes_at, now_us)?;
            Ok(SaleConfig {
                title: check_text(&title, TITLE_LEN_MAX, "title", true)?,
                description: check_text(&description, DESCRIPTION_LEN_MAX, "description", false)?,
                translations: check_translations(translations)?,
                owner,
                currency,
                opens_at_us,
                closes_at_us,
                kind: KindConfig::Seated(seated_config(seated)?),
                queue: queue_config(waiting_room)?,
            })
        }
        CreateSaleRequest::Drop { title, description, translations, winners, opens_at, closes_at, waiting_room } => {
            let (opens_at_us, closes_at_us) = window(opens_at, closes_at, now_us)?;
            Ok(SaleConfig {
                title: check_text(&title, TITLE_LEN_MAX, "title", true)?,
                description: check_text(&description, DESCRIPTION_LEN_MAX, "description", false)?,
                translations: check_translations(translations)?,
                owner,
                currency: "KRW".into(),
                opens_at_us,
                closes_at_us,
                kind: KindConfig::Drop(DropConfig { winners: as_u32(in_range(winners, 1, WINNERS_MAX, "winners")?) }),
                queue: queue_config(waiting_room)?,
            })
        }
    }
}

fn check_currency(raw: &str) -> Result<String, ApiError> {
    let currency = raw.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::bad_format("currency", "currency must be a 3-letter ISO 4217 code"));
    }
    Ok(currency)
}

/// A sale as the API shows it, from its durable public state: no message to
/// its task (`Engine::live` waits only when the clock has passed a deadline
/// the task has not applied yet).
pub(crate) async fn sale_out(state: &AppState, id: u64) -> Result<SaleOut, ApiError> {
    let live = state.engine.live(id).await?;
    // Taken after the view: the registry gets an edited configuration before
    // the view is published, so this one is never older than the view.
    let sale = state.engine.sale(id).ok_or(stampede_engine::EngineError::UnknownSale)?;
    Ok(SaleOut::of(id, &sale.config, &live))
}

/// Create a sale (organizers and admins).
#[utoipa::path(post, path = "/api/sales", tag = "sales", request_body = CreateSaleRequest,
    responses((status = 201, body = SaleOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_sale(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(mut req): ApiJson<CreateSaleRequest>,
) -> Result<(StatusCode, Json<SaleOut>), ApiError> {
    if !auth.can_organize() {
        return Err(ApiError::forbidden("only organizers may create sales"));
    }
    if let CreateSaleRequest::Seated { seated, .. } = &mut req {
        resolve_venue_id(&state, &auth, seated).await?;
    }
    // A seated request may generate or check up to 100,000 seats: off the
    // request executor, so pings and holds are not queued behind it.
    let owner = auth.core_id();
    let now_us = state.engine.now_us();
    let config = blocking(move || sale_config(req, owner, now_us)).await?;
    let sale = state.engine.create_sale(config).await?;
    Ok((StatusCode::CREATED, Json(sale_out(&state, sale.id).await?)))
}

/// Every sale.
#[utoipa::path(get, path = "/api/sales", tag = "sales", responses((status = 200, body = SalesOut)))]
pub async fn list_sales(State(state): State<AppState>) -> Result<Json<SalesOut>, ApiError> {
    let mut sales = Vec::new();
    for h in state.engine.sales() {
        sales.push(sale_out(&state, h.id).await?);
    }
    Ok(Json(SalesOut { sales }))
}

/// One sale's public state.
#[utoipa::path(get, path = "/api/sales/{id}", tag = "sales", params(("id" = u64, Path)),
    responses((status = 200, body = SaleOut), (status = 404, body = Problem)))]
pub async fn get_sale(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<SaleOut>, ApiError> {
    let sale = handle(&state, &id)?;
    Ok(Json(sale_out(&state, sale.id).await?))
}

async fn organizer_command(
    state: AppState,
    auth: Auth,
    id: String,
    key: IdemKey,
    action: Action,
) -> Result<(ReceiptHeader, Json<SaleOut>), ApiError> {
    let sale = handle(&state, &id)?;
    require_owner(&auth, &sale)?;
    let (_, receipt) = command(&state, &sale, &auth, key, action).await?;
    Ok((receipt, Json(sale_out(&state, sale.id).await?)))
}

/// Open the sale now (its organizer or an admin).
#[utoipa::path(post, path = "/api/sales/{id}/open", tag = "sales", params(("id" = u64, Path)),
    responses((status = 200, body = SaleOut), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn open_sale(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath(id): ApiPath<String>,
) -> Result<(ReceiptHeader, Json<SaleOut>), ApiError> {
    organizer_command(state, auth, id, key, Action::Open).await
}

/// Close the sale now (its organizer or an admin).
#[utoipa::path(post, path = "/api/sales/{id}/close", tag = "sales", params(("id" = u64, Path)),
    responses((status = 200, body = SaleOut), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn close_sale(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath(id): ApiPath<String>,
) -> Result<(ReceiptHeader, Json<SaleOut>), ApiError> {
    organizer_command(state, auth, id, key, Action::Close).await
}

/// Hold stock: it is yours until the hold expires or you confirm it.
#[utoipa::path(post, path = "/api/sales/{id}/holds", tag = "buying", params(("id" = u64, Path)), request_body = ReserveRequest,
    responses((status = 201, body = HoldOut), (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn reserve(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    pass: SalePass,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ReserveRequest>,
) -> Result<(StatusCode, ReceiptHeader, Json<HoldOut>), ApiError> {
    let sale = handle(&state, &id)?;
    pass.check(&state, &auth, &sale)?;
    let quantity = match u32::try_from(req.quantity) {
        Ok(q) if q > 0 => q,
        _ => {
            let max = match &sale.config.kind {
                KindConfig::Stock(c) => c.order_quantity_max,
                _ => return Err(stampede_core::Rejection::WrongSaleKind.into()),
            };
            return Err(stampede_core::Rejection::BadQuantity { max }.into());
        }
    };
    match command(&state, &sale, &auth, key, Action::Stock(StockAction::Reserve { quantity })).await? {
        (Outcome::Stock(StockOutcome::Held(h)), receipt) => {
            Ok((StatusCode::CREATED, receipt, Json(HoldOut::new(sale.id, &h)?)))
        }
        (other, _) => Err(unexpected(&other)),
    }
}

impl HoldAnswer for OrderOut {
    const SEATED: bool = false;
    fn answer(_: &AppState, sale: &SaleHandle, verb: HoldVerb, outcome: Outcome) -> Result<Self, ApiError> {
        match (verb, outcome) {
            (HoldVerb::Confirm, Outcome::Stock(StockOutcome::Confirmed(h)))
            | (HoldVerb::Refund, Outcome::Stock(StockOutcome::Refunded(h))) => OrderOut::new(sale.id, &h),
            (_, other) => Err(unexpected(&other)),
        }
    }
}

impl HoldAnswer for HoldOut {
    const SEATED: bool = false;
    fn answer(_: &AppState, sale: &SaleHandle, verb: HoldVerb, outcome: Outcome) -> Result<Self, ApiError> {
        match (verb, outcome) {
            (HoldVerb::Cancel, Outcome::Stock(StockOutcome::Cancelled(h))) => HoldOut::new(sale.id, &h),
            (_, other) => Err(unexpected(&other)),
        }
    }
}

/// Confirm (pay for) a hold; it becomes an order with the same id.
#[utoipa::path(post, path = "/api/sales/{id}/holds/{hold}/confirm", tag = "buying", params(("id" = u64, Path), ("hold" = u64, Path)),
    responses((status = 200, body = OrderOut), (status = 402, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, hold)): ApiPath<(String, String)>,
) -> Result<(ReceiptHeader, Json<OrderOut>), ApiError> {
    let (receipt, answer) = settle_hold(&state, &auth, key, &sale, &hold, HoldVerb::Confirm).await?;
    Ok((receipt, Json(answer)))
}

/// Give a hold back before it expires.
#[utoipa::path(delete, path = "/api/sales/{id}/holds/{hold}", tag = "buying", params(("id" = u64, Path), ("hold" = u64, Path)),
    responses((status = 200, body = HoldOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, hold)): ApiPath<(String, String)>,
) -> Result<(ReceiptHeader, Json<HoldOut>), ApiError> {
    let (receipt, answer) = settle_hold(&state, &auth, key, &sale, &hold, HoldVerb::Cancel).await?;
    Ok((receipt, Json(answer)))
}

/// Refund a confirmed order; its stock returns to the sale.
#[utoipa::path(post, path = "/api/sales/{id}/orders/{order}/refund", tag = "buying", params(("id" = u64, Path), ("order" = u64, Path)),
    responses((status = 200, body = OrderOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn refund(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, order)): ApiPath<(String, String)>,
) -> Result<(ReceiptHeader, Json<OrderOut>), ApiError> {
    let (receipt, answer) = settle_hold(&state, &auth, key, &sale, &order, HoldVerb::Refund).await?;
    Ok((receipt, Json(answer)))
}

/// Click a first-come drop. A repeated click returns the first one.
#[utoipa::path(post, path = "/api/sales/{id}/clicks", tag = "buying", params(("id" = u64, Path)),
    responses((status = 200, body = ClickOut), (status = 409, body = Problem)))]
pub async fn click(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    pass: SalePass,
    ApiPath(id): ApiPath<String>,
) -> Result<(ReceiptHeader, Json<ClickOut>), ApiError> {
    let sale = handle(&state, &id)?;
    pass.check(&state, &auth, &sale)?;
    let winners = match &sale.config.kind {
        KindConfig::Drop(d) => d.winners,
        _ => return Err(stampede_core::Rejection::WrongSaleKind.into()),
    };
    match command(&state, &sale, &auth, key, Action::Drop(DropAction::Click)).await? {
        (Outcome::Drop(DropOutcome::Clicked(c)), receipt) => Ok((receipt, Json(ClickOut::new(sale.id, winners, &c)))),
        (other, _) => Err(unexpected(&other)),
    }
}

/// The drop's ranking with masked names.
#[utoipa::path(get, path = "/api/sales/{id}/leaderboard", tag = "sales", params(("id" = u64, Path), PageQuery),
    responses((status = 200, body = LeaderboardOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn leaderboard(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<LeaderboardOut>, ApiError> {
    let sale = handle(&state, &id)?;
    if !(1..=LEADERBOARD_PAGE_MAX).contains(&q.limit) {
        return Err(ApiError::invalid_field(format!("limit must be 1..={LEADERBOARD_PAGE_MAX}")));
    }
    let KindConfig::Drop(drop) = &sale.config.kind else {
        return Err(stampede_core::Rejection::WrongSaleKind.into());
    };
    let (winners, sale_id) = (drop.winners, sale.id);
    let (stats, clicks) = crate::projections::read(&state, move |v| {
        Ok((v.stats(sale_id)?.0, v.clicks(sale_id, q.offset, q.limit, false)?))
    })
    .await?;
    let total = u32::try_from(stats.clicks).unwrap_or(u32::MAX);
    let entries = clicks
        .iter()
        .map(|c| {
            let name = state.store.user(stampede_store::UserId(c.person)).map(|u| u.name).unwrap_or_default();
            LeaderEntry {
                rank: c.rank,
                name: stampede_store::mask_name(&name),
                won: c.won,
                clicked_at: fmt_us(c.at_us),
                clicked_at_us: c.at_us,
                after_open_ms: c.after_open_us as f64 / 1000.0,
            }
        })
        .collect();
    Ok(Json(LeaderboardOut { total, winners, entries }))
}

/// Every hold of a stock sale, paged by id (its organizer and admins).
#[utoipa::path(get, path = "/api/sales/{id}/holds", tag = "sales", params(("id" = u64, Path), HoldPageQuery),
    responses((status = 200, body = HoldPage), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn sale_holds(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HoldPageQuery>,
) -> Result<Json<HoldPage>, ApiError> {
    let sale = handle(&state, &id)?;
    require_owner(&auth, &sale)?;
    if !(1..=PAGE_LEN_MAX).contains(&q.limit) {
        return Err(ApiError::invalid_field(format!("limit must be 1..={PAGE_LEN_MAX}")));
    }
    // The document promises int64 ids; a larger `after` is refused, not wrapped.
    if i64::try_from(q.after).is_err() {
        return Err(ApiError::out_of_range("after", 0, i64::MAX));
    }
    if !matches!(sale.config.kind, KindConfig::Stock(_)) {
        return Err(stampede_core::Rejection::WrongSaleKind.into());
    }
    let sale_id = sale.id;
    let rows = crate::projections::read(&state, move |v| v.holds_of_sale(sale_id, q.after, q.limit, None)).await?;
    let now_us = state.engine.now_us();
    let holds = rows
        .iter()
        .map(|h| HoldRow {
            id: h.id,
            user_id: h.booker,
            quantity: h.quantity,
            status: shown_status(h.status, h.expires_at_us, now_us).as_str(),
        })
        .collect::<Vec<_>>();
    let next_after = if holds.len() == q.limit { holds.last().map(|h| h.id) } else { None };
    Ok(Json(HoldPage { holds, next_after }))
}

/// Totals and the buyers or winners with the contact data needed to deliver
/// (MISSION A4: organizers see personal data only of buyers and winners).
#[utoipa::path(get, path = "/api/sales/{id}/results", tag = "sales", params(("id" = u64, Path)),
    responses((status = 200, body = ResultsOut), (status = 403, body = Problem)))]
pub async fn results(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ResultsOut>, ApiError> {
    let sale = handle(&state, &id)?;
    require_owner(&auth, &sale)?;
    let sale_id = sale.id;
    // The sale's own figures from its durable public state; who bought or won
    // from the projections.
    let out = sale_out(&state, sale_id).await?;
    let is_drop = matches!(sale.config.kind, KindConfig::Drop(_));
    let (stats, mut rows) = crate::projections::read(&state, move |v| {
        let stats = v.stats(sale_id)?.0;
        // One more than a page tells whether the list was cut.
        let rows: Vec<(UserId, u64, u32, u64)> = if is_drop {
            v.clicks(sale_id, 0, PAGE_LEN_MAX + 1, true)?
                .into_iter()
                .map(|c| (UserId(c.person), u64::from(c.rank), 1, 0))
                .collect()
        } else {
            v.holds_of_sale(sale_id, 0, PAGE_LEN_MAX + 1, Some(HoldStatus::Confirmed))?
                .into_iter()
                .map(|h| (UserId(h.booker), h.id, h.quantity, h.amount))
                .collect()
        };
        Ok((stats, rows))
    })
    .await?;
    let truncated = rows.len() > PAGE_LEN_MAX;
    rows.truncate(PAGE_LEN_MAX);
    let revenue = stats.revenue;
    let recipients = rows
        .into_iter()
        .map(|(by, order, quantity, amount)| {
            let user = state.store.user(stampede_store::UserId(by.0));
            Recipient {
                user_id: by.0,
                name: user.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
                email: user.map(|u| u.email).unwrap_or_default(),
                reference: OrderRef::new(sale_id, order).to_string(),
                order,
                quantity,
                amount,
            }
        })
        .collect();
    Ok(Json(ResultsOut { sale: out, revenue, recipients, truncated }))
}

/// The organizer's change as the core takes it. Terms not sent keep their
/// current values, and are checked against the same bounds as at creation.
fn sale_edit(req: EditSaleRequest, current: &SaleConfig) -> Result<SaleEdit, ApiError> {
    let as_u32 = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    let as_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
    let time = |t: Option<Option<String>>, field: &str| -> Result<Option<Option<i64>>, ApiError> {
        t.map(|t| t.as_deref().map(|s| parse_time(s, field)).transpose()).transpose()
    };
    let hold_ttl_us = |v: Option<i64>, now_us: i64| -> Result<i64, ApiError> {
        match v {
            Some(s) => Ok(in_range(s, HOLD_SECONDS_MIN, HOLD_SECONDS_MAX, "hold_seconds")? * US_PER_S),
            None => Ok(now_us),
        }
    };
    let per_person = |v: Option<i64>, now: u32| -> Result<u32, ApiError> {
        v.map_or(Ok(now), |v| Ok(as_u32(in_range(v, 1, PER_PERSON_MAX, "per_person_limit")?)))
    };
    let wrong_field = |field: &str| ApiError::invalid_field(format!("{field} does not belong to this kind of sale"));
    let terms = match &current.kind {
        KindConfig::Stock(c) => {
            for (sent, field) in
                [(req.winners.is_some(), "winners"), (req.seats_per_hold_max.is_some(), "seats_per_hold_max")]
            {
                if sent {
                    return Err(wrong_field(field));
                }
            }
            let any = req.stock.is_some()
                || req.price.is_some()
                || req.per_person_limit.is_some()
                || req.order_quantity_max.is_some()
                || req.hold_seconds.is_some();
            any.then(|| -> Result<TermsEdit, ApiError> {
                let stock = req.stock.map_or(Ok(c.stock), |v| in_range(v, 1, STOCK_MAX, "stock").map(as_u64))?;
                let price = req.price.map_or(Ok(c.price), |v| in_range(v, 0, PRICE_MAX, "price").map(as_u64))?;
                sellout_fits(stock, price)?;
                Ok(TermsEdit::Stock(StockConfig {
                    stock,
                    price,
                    per_person_limit: per_person(req.per_person_limit, c.per_person_limit)?,
                    order_quantity_max: req.order_quantity_max.map_or(Ok(c.order_quantity_max), |v| {
                        in_range(v, 1, PER_PERSON_MAX, "order_quantity_max").map(as_u32)
                    })?,
                    hold_ttl_us: hold_ttl_us(req.hold_seconds, c.hold_ttl_us)?,
                }))
            })
            .transpose()?
        }
        KindConfig::Drop(_) => {
            for (sent, field) in [
                (req.stock.is_some(), "stock"),
                (req.price.is_some(), "price"),
                (req.per_person_limit.is_some(), "per_person_limit"),
                (req.order_quantity_max.is_some(), "order_quantity_max"),
                (req.hold_seconds.is_some(), "hold_seconds"),
                (req.seats_per_hold_max.is_some(), "seats_per_hold_max"),
            ] {
                if sent {
                    return Err(wrong_field(field));
                }
            }
            req.winners
                .map(|w| {
                    in_range(w, 1, WINNERS_MAX, "winners").map(|w| TermsEdit::Drop(DropConfig { winners: as_u32(w) }))
                })
                .transpose()?
        }
        KindConfig::Seated(c) => {
            for (sent, field) in [
                (req.stock.is_some(), "stock"),
                (req.price.is_some(), "price"),
                (req.order_quantity_max.is_some(), "order_quantity_max"),
                (req.winners.is_some(), "winners"),
            ] {
                if sent {
                    return Err(wrong_field(field));
                }
            }
            let any = req.per_person_limit.is_some() || req.seats_per_hold_max.is_some() || req.hold_seconds.is_some();
            any.then(|| -> Result<TermsEdit, ApiError> {
                Ok(TermsEdit::Seated(SeatedTerms {
                    per_person_limit: per_person(req.per_person_limit, c.per_person_limit)?,
                    seats_per_hold_max: req.seats_per_hold_max.map_or(Ok(c.seats_per_hold_max), |v| {
                        in_range(v, 1, SEATS_PER_HOLD_LIMIT, "seats_per_hold_max").map(as_u32)
                    })?,
                    hold_ttl_us: hold_ttl_us(req.hold_seconds, c.hold_ttl_us)?,
                }))
            })
            .transpose()?
        }
    };
    Ok(SaleEdit {
        title: req.title.as_deref().map(|t| check_text(t, TITLE_LEN_MAX, "title", true)).transpose()?,
        description: req
            .description
            .as_deref()
            .map(|d| check_text(d, DESCRIPTION_LEN_MAX, "description", false))
            .transpose()?,
        opens_at_us: time(req.opens_at, "opens_at")?,
        closes_at_us: time(req.closes_at, "closes_at")?,
        terms,
    })
}

/// Change a sale (its organizer or an admin): anything before it opens;
/// after, only the title, the description and (while open) the closing time.
#[utoipa::path(patch, path = "/api/sales/{id}", tag = "sales", params(("id" = u64, Path)), request_body = EditSaleRequest,
    responses((status = 200, body = SaleOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn edit_sale(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<EditSaleRequest>,
) -> Result<(ReceiptHeader, Json<SaleOut>), ApiError> {
    let sale = handle(&state, &id)?;
    require_owner(&auth, &sale)?;
    let edit = sale_edit(req, &sale.config)?;
    organizer_command(state, auth, id, key, Action::Edit(Box::new(edit))).await
}

/// Delete a sale nobody has bought from (its organizer or an admin). It is
/// archived: closed for good and off every list, while its log stays for audits.
#[utoipa::path(delete, path = "/api/sales/{id}", tag = "sales", params(("id" = u64, Path)),
    responses((status = 200, body = SaleOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn delete_sale(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath(id): ApiPath<String>,
) -> Result<(ReceiptHeader, Json<SaleOut>), ApiError> {
    organizer_command(state, auth, id, key, Action::Archive).await
}

/// One order, hold or drop win by its reference: for the buyer, the people
/// seated in it, and the sale's organizer. Anyone else gets 404, as for a
/// reference that does not exist.
#[utoipa::path(get, path = "/api/orders/{reference}", tag = "buying", params(("reference" = String, Path)),
    responses((status = 200, body = OrderLookupOut), (status = 404, body = Problem)))]
pub async fn order_by_reference(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(reference): ApiPath<String>,
) -> Result<Json<OrderLookupOut>, ApiError> {
    let missing = || ApiError::not_found("no order with this reference");
    let r = OrderRef::parse(&reference).ok_or_else(missing)?;
    let sale = state.engine.sale(r.sale).ok_or_else(missing)?;
    let me = auth.core_id();
    let organizer = require_owner(&auth, &sale).is_ok();
    let (sale_id, config) = (sale.id, sale.config.clone());
    let order = r.order;
    let allowed = |by: u64| organizer || by == me.0;
    let mut out = OrderLookupOut {
        reference: r.to_string(),
        sale_id,
        sale_title: config.title.clone(),
        kind: kind_name(&config.kind),
        stock: None,
        seats: None,
        click: None,
    };
    let now_us = state.engine.now_us();
    match &config.kind {
        KindConfig::Stock(_) => {
            let (row, _) = crate::projections::read(&state, move |v| v.hold(sale_id, order))
                .await?
                .filter(|(h, _)| allowed(h.booker))
                .ok_or_else(missing)?;
            let mut hold = crate::projections::stock_hold(&row);
            hold.status = shown_status(hold.status, hold.expires_at_us, now_us);
            out.stock = Some(HoldOut::new(sale_id, &hold)?);
        }
        KindConfig::Seated(_) => {
            let (row, seats) = crate::projections::read(&state, move |v| v.hold(sale_id, order))
                .await?
                .filter(|(h, seats)| allowed(h.booker) || seats.iter().any(|s| !s.released && s.holder == me.0))
                .ok_or_else(missing)?;
            let mut hold = crate::projections::seat_hold(&row, &seats);
            hold.status = shown_status(hold.status, hold.expires_at_us, now_us);
            let index = state.seatmaps.index(sale_id, &config);
            out.seats = Some(SeatHoldOut::new(sale_id, &config, &index, &hold)?);
        }
        KindConfig::Drop(d) => {
            // A drop's order number is its winning rank.
            let rank_index = usize::try_from(order).ok().and_then(|r| r.checked_sub(1)).ok_or_else(missing)?;
            let click = crate::projections::read(&state, move |v| v.clicks(sale_id, rank_index, 1, false))
                .await?
                .into_iter()
                .next()
                .filter(|c| u64::from(c.rank) == order && c.won && allowed(c.person))
                .ok_or_else(missing)?;
            let click = stampede_core::Click {
                by: UserId(click.person),
                rank: click.rank,
                at_us: click.at_us,
                won: click.won,
                after_open_us: click.after_open_us,
            };
            out.click = Some(ClickOut::new(sale_id, d.winners, &click));
        }
    }
    Ok(Json(out))
}

/// A hold as a reader sees it now: one still held past its expiry is
/// expired, as the sale's next tick (a moment later) will make it.
fn shown_status(status: HoldStatus, expires_at_us: i64, now_us: i64) -> HoldStatus {
    if status == HoldStatus::Held && expires_at_us <= now_us { HoldStatus::Expired } else { status }
}

/// Your active holds in every sale.
#[utoipa::path(get, path = "/api/me/holds", tag = "buying", responses((status = 200, body = HoldsOut)))]
pub async fn my_holds(State(state): State<AppState>, auth: Auth) -> Result<Json<HoldsOut>, ApiError> {
    let me = auth.core_id();
    let rows = crate::projections::read(&state, |v| v.stock_holds_of(me.0, &[HoldStatus::Held])).await?;
    // A hold past its time expires with the sale's next tick, a moment later;
    // it is not shown as held meanwhile.
    let now_us = state.engine.now_us();
    let holds = rows
        .iter()
        .filter(|h| h.expires_at_us > now_us)
        .map(|h| HoldOut::new(h.sale, &crate::projections::stock_hold(h)))
        .collect::<Result<_, _>>()?;
    Ok(Json(HoldsOut { holds }))
}

/// Your orders in every sale, refunded ones included; one paid from the
/// wallet says what was paid and refunded.
#[utoipa::path(get, path = "/api/me/orders", tag = "buying", responses((status = 200, body = OrdersOut)))]
pub async fn my_orders(State(state): State<AppState>, auth: Auth) -> Result<Json<OrdersOut>, ApiError> {
    let me = auth.core_id();
    let rows =
        crate::projections::read(&state, |v| v.stock_holds_of(me.0, &[HoldStatus::Confirmed, HoldStatus::Refunded]))
            .await?;
    let mut orders: Vec<OrderOut> =
        rows.iter().map(|h| OrderOut::new(h.sale, &crate::projections::stock_hold(h))).collect::<Result<_, _>>()?;
    for o in &mut orders {
        let paid = crate::routes::common::pay::paid_for(&state, o.sale_id, o.id).await?;
        if paid > stampede_core::Money::ZERO {
            let refunded = crate::routes::common::pay::refunded_for(&state, o.sale_id, o.id, &[]).await?;
            o.payment = OrderPaymentOut::of(paid.minor(), refunded.minor());
        }
    }
    Ok(Json(OrdersOut { orders }))
}

/// Counters for the organizer's dashboard (owner or admin).
#[utoipa::path(get, path = "/api/sales/{id}/stats", tag = "sales", params(("id" = u64, Path)),
    responses((status = 200, body = SaleStatsOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn sale_stats(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SaleStatsOut>, ApiError> {
    let sale = handle(&state, &id)?;
    require_owner(&auth, &sale)?;
    let sale_id = sale.id;
    let (stats, bars) =
        crate::projections::read(&state, move |v| Ok((v.stats(sale_id)?.0, v.histogram(sale_id)?))).await?;
    let bar_ms = (stampede_views::fold::HISTOGRAM_BUCKET_US / 1000) as u64;
    Ok(Json(SaleStatsOut {
        commands_total: sale.commands_total(),
        queued: sale.queued(),
        at_us: state.engine.now_us(),
        held: stats.held,
        sold: stats.sold,
        revenue: stats.revenue,
        refunds: stats.refunds,
        refunded_amount: stats.refunded_amount,
        clicks: stats.clicks,
        won: stats.won,
        click_histogram: bars
            .into_iter()
            .map(|(bar, clicks)| HistogramBar { from_ms: u64::from(bar) * bar_ms, clicks })
            .collect(),
        bar_ms,
    }))
}
