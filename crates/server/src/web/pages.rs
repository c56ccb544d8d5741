//! The pages: home (sales by open / opening soon / closed), sign-up, log-in,
//! log-out, one sale, "my page" (with its friends panel), and the organizer
//! pages (their sales, a new sale, a sale's dashboard: organizers and admins
//! only, a human 403 for others). Each handler reads what it shows,
//! formats it for the viewer's language, and renders its template; the
//! page's script (see `assets/js/`) does the live parts.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::i18n::Lang;
use super::{Chrome, SignedIn, local_path, query_param, render, see_other};
use crate::AppState;
use crate::extract::{SESSION_COOKIE, cookie_from_headers, parse_id};
use crate::routes::common::present::{SeatedOut, StockOut, kind_name};
use stampede_engine::SaleHandle;

/// Closed sales shown on the home page, newest first.
pub const CLOSED_SHOWN_MAX: usize = 20;

/// A time as the page shows it: machine-readable for the script, and
/// written out for the viewer's language.
#[derive(Clone, Debug)]
pub struct TimeView {
    pub iso: String,
    pub us: i64,
    pub text: String,
}

impl TimeView {
    fn new(lang: Lang, iso: Option<&str>) -> Option<TimeView> {
        let us = iso?.parse::<jiff::Timestamp>().ok()?.as_microsecond();
        Some(TimeView { iso: iso?.to_owned(), us, text: lang.datetime(us) })
    }
}

impl TimeView {
    fn at(lang: Lang, us: Option<i64>) -> Option<TimeView> {
        let us = us?;
        Some(TimeView { iso: crate::routes::common::wire::fmt_us(us), us, text: lang.datetime(us) })
    }
}

/// A sale's public state as the pages show it, read from the engine's live
/// view (the newest durable state, which the sale's task also publishes at
/// each opening, closing and expiry): no trip through the sale's mailbox, so
/// the pages stay up in a rush and add nothing to it.
#[derive(Clone, Debug)]
pub struct Summary {
    pub id: u64,
    pub kind: &'static str,
    pub title: String,
    pub description: String,
    pub status: &'static str,
    pub opens_at_us: Option<i64>,
    pub closes_at_us: Option<i64>,
    pub waiting_room: bool,
    pub currency: String,
    pub stock: Option<StockOut>,
    pub drop: Option<stampede_core::DropView>,
    pub seated: Option<SeatedOut>,
}

impl Summary {
    /// The sale as `lang`'s viewers see it (its title and description in their language, if given).
    pub fn of(handle: &SaleHandle, lang: Lang) -> Summary {
        let live = handle.live().borrow().clone();
        let c = &handle.config;
        let view = &live.view;
        // The same presentation as the JSON answers (`routes::common::present`), from the live view.
        let stock = view.stock.as_ref().and_then(|v| StockOut::of(c, v));
        let seated = view.seats.as_ref().and_then(|v| SeatedOut::of(c, v));
        Summary {
            id: handle.id,
            kind: kind_name(&c.kind),
            title: c.text_in(lang.code()).0.to_owned(),
            description: c.text_in(lang.code()).1.to_owned(),
            status: view.status.as_str(),
            opens_at_us: c.opens_at_us,
            closes_at_us: c.closes_at_us,
            waiting_room: c.queue.is_some(),
            currency: c.currency.clone(),
            stock,
            drop: view.drop.clone(),
            seated,
        }
    }
}

/// One sale on the home page.
#[derive(Clone, Debug)]
pub struct Card {
    pub id: u64,
    pub status: &'static str,
    pub title: String,
    pub kind: &'static str,
    pub price: Option<String>,
    /// "12 left", "3 of 100 wins left", "480 seats left".
    pub left: String,
    pub sold_out: bool,
    pub waiting_room: bool,
    pub opens: Option<TimeView>,
    pub closes: Option<TimeView>,
}

impl Card {
    fn new(lang: Lang, s: &Summary) -> Card {
        let (price, left, sold_out) = if let Some(st) = &s.stock {
            (Some(lang.money(st.price, &s.currency)), lang.count("sale.units_left", st.available), st.available == 0)
        } else if let Some(d) = &s.drop {
            let left = u64::from(d.winners.saturating_sub(d.won));
            (None, lang.count("sale.wins_left", d.winners.into()).replace("{left}", &lang.number(left)), left == 0)
        } else if let Some(se) = &s.seated {
            let min = se.sections.iter().map(|x| x.price).min();
            (
                min.map(|p| lang.t("sale.price_from").replace("{n}", &lang.money(p, &s.currency))),
                lang.count("sale.seats_left", se.available.into()),
                se.available == 0,
            )
        } else {
            (None, String::new(), false)
        };
        Card {
            id: s.id,
            status: s.status,
            title: s.title.clone(),
            kind: s.kind,
            price,
            left,
            sold_out,
            waiting_room: s.waiting_room,
            opens: TimeView::at(lang, s.opens_at_us),
            closes: TimeView::at(lang, s.closes_at_us),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub c: Chrome,
    /// The kind the list is narrowed to (`stock`, `drop`, `seated`), if any.
    pub kind: Option<&'static str>,
    pub kinds: [&'static str; 3],
    pub open: Vec<Card>,
    /// Scheduled to open before midnight in the viewer's zone.
    pub today: Vec<Card>,
    /// Scheduled within the next seven days, after today.
    pub week: Vec<Card>,
    /// Later, or waiting for the organizer to open them.
    pub later: Vec<Card>,
    pub closed: Vec<Card>,
}

const DAY_US: i64 = 86_400 * stampede_core::US_PER_S;

/// The next midnight after `now_us` in the zone the page is written for
/// (Korean pages in KST, English ones in UTC, as their times are).
fn next_midnight_us(lang: Lang, now_us: i64) -> i64 {
    let offset_us = match lang {
        Lang::Ko => 9 * 3600 * stampede_core::US_PER_S,
        _ => 0,
    };
    (now_us + offset_us).div_euclid(DAY_US).saturating_add(1) * DAY_US - offset_us
}

/// `GET /`: sales open now, opening soon (soonest first), and recently closed.
pub async fn home(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "sales");
    let lang = c.lang;
    const KINDS: [&str; 3] = stampede_core::KindConfig::NAMES;
    let wanted = query_param(&uri, "kind");
    let kind = KINDS.into_iter().find(|k| wanted.as_deref() == Some(*k));
    let now_us = state.engine.now_us();
    let midnight = next_midnight_us(lang, now_us);
    let week_end = now_us.saturating_add(7 * DAY_US);
    let (mut open, mut today, mut week, mut later, mut closed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for handle in state.engine.sales() {
        let s = Summary::of(&handle, lang);
        if kind.is_some_and(|k| k != s.kind) {
            continue;
        }
        let card = Card::new(lang, &s);
        match (s.status, s.opens_at_us) {
            ("open", _) => open.push(card),
            ("scheduled", Some(at)) if at < midnight => today.push(card),
            ("scheduled", Some(at)) if at < week_end => week.push(card),
            ("scheduled", _) => later.push(card),
            _ => closed.push(card),
        }
    }
    // Soonest opening first; sales waiting for their organizer to open them last.
    for soon in [&mut today, &mut week, &mut later] {
        soon.sort_by_key(|c| (c.opens.as_ref().map_or(i64::MAX, |t| t.us), c.id));
    }
    closed.reverse();
    closed.truncate(CLOSED_SHOWN_MAX);
    render(StatusCode::OK, &HomePage { c, kind, kinds: KINDS, open, today, week, later, closed })
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub c: Chrome,
    pub next: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
pub struct SignupPage {
    pub c: Chrome,
    pub next: String,
}

/// `GET /login?next=/path`.
pub async fn login(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "login");
    let next = local_path(query_param(&uri, "next").as_deref());
    render(StatusCode::OK, &LoginPage { c, next })
}

/// `GET /signup?next=/path`.
pub async fn signup(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "signup");
    let next = local_path(query_param(&uri, "next").as_deref());
    render(StatusCode::OK, &SignupPage { c, next })
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub c: Chrome,
}

/// `GET /logout`: asks, with a button that posts the form below.
pub async fn logout_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "");
    if c.user.is_none() {
        return see_other("/");
    }
    render(StatusCode::OK, &LogoutPage { c })
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /logout` (form with the CSRF token): ends the session, clears the
/// cookie, and goes home. Works without JavaScript.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "");
    let Some(user) = &c.user else { return see_other("/") };
    let sent = form.map(|f| f.0.csrf).unwrap_or_default();
    if !same_secret(&sent, &user.csrf) {
        let page = MessagePage {
            title: c.t("logout.csrf_title").to_owned(),
            body: c.t("logout.csrf_body").to_owned(),
            link_href: "/logout".to_owned(),
            link_text: c.t("logout.title").to_owned(),
            c,
        };
        return render(StatusCode::FORBIDDEN, &page);
    }
    if let Some(value) = cookie_from_headers(&headers, SESSION_COOKIE)
        && let Err(e) = state.store.end_session(value)
    {
        tracing::warn!(error = %e, "ending a session failed");
    }
    let mut res = see_other("/");
    let clear = crate::extract::session_cookie(&state, "", 0);
    if let Ok(v) = HeaderValue::from_str(&clear) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// Compares two secrets by their hashes, so the time taken says nothing about them.
fn same_secret(a: &str, b: &str) -> bool {
    blake3::hash(a.as_bytes()) == blake3::hash(b.as_bytes())
}

/// A section of a seated sale, for the summary table.
#[derive(Clone, Debug)]
pub struct SectionRow {
    pub name: String,
    pub tier: String,
    pub price: String,
    pub available: String,
    pub seats: String,
}

/// One sale, formatted for its page.
#[derive(Clone, Debug)]
pub struct SaleView {
    pub id: u64,
    pub kind: &'static str,
    pub title: String,
    pub description: String,
    pub status: &'static str,
    pub opens: Option<TimeView>,
    pub closes: Option<TimeView>,
    pub waiting_room: bool,
    pub currency: String,
    /// Stock sale: the unit price, formatted.
    pub price: String,
    pub available: u64,
    pub total: u64,
    pub total_text: String,
    pub available_text: String,
    pub per_person_limit: u32,
    pub order_quantity_max: u32,
    pub hold_seconds: i64,
    pub hold_text: String,
    /// Seated: `order_quantity_max` is the most seats in one hold.
    /// Drop: winners, clicks so far, wins so far.
    pub winners: u32,
    pub clicks: u32,
    pub won: u32,
    pub venue: String,
    pub sections: Vec<SectionRow>,
    pub sold_out: bool,
}

impl SaleView {
    fn new(lang: Lang, s: &Summary) -> SaleView {
        let mut v = SaleView {
            id: s.id,
            kind: s.kind,
            title: s.title.clone(),
            description: s.description.clone(),
            status: s.status,
            opens: TimeView::at(lang, s.opens_at_us),
            closes: TimeView::at(lang, s.closes_at_us),
            waiting_room: s.waiting_room,
            currency: s.currency.clone(),
            price: String::new(),
            available: 0,
            total: 0,
            total_text: String::new(),
            available_text: String::new(),
            per_person_limit: 0,
            order_quantity_max: 0,
            hold_seconds: 0,
            hold_text: String::new(),
            winners: 0,
            clicks: 0,
            won: 0,
            venue: String::new(),
            sections: Vec::new(),
            sold_out: false,
        };
        if let Some(st) = &s.stock {
            v.price = lang.money(st.price, &s.currency);
            v.available = st.available;
            v.total = st.total;
            v.total_text = lang.number(st.total);
            v.available_text = lang.number(st.available);
            v.per_person_limit = st.per_person_limit;
            v.order_quantity_max = st.order_quantity_max;
            v.hold_seconds = st.hold_seconds;
            v.hold_text = lang.duration(st.hold_seconds);
            v.sold_out = st.available == 0;
        }
        if let Some(d) = &s.drop {
            v.winners = d.winners;
            v.clicks = d.clicks;
            v.won = d.won;
            v.available = u64::from(d.winners.saturating_sub(d.won));
            v.total = u64::from(d.winners);
            v.sold_out = d.won >= d.winners;
        }
        if let Some(se) = &s.seated {
            v.venue = se.venue.clone();
            v.available = u64::from(se.available);
            v.total = u64::from(se.total);
            v.available_text = lang.number(se.available.into());
            v.sold_out = se.available == 0;
            v.per_person_limit = se.per_person_limit;
            v.order_quantity_max = se.seats_per_hold_max;
            v.hold_seconds = se.hold_seconds;
            v.hold_text = lang.duration(se.hold_seconds);
            v.sections = se
                .sections
                .iter()
                .map(|x| SectionRow {
                    name: x.name.clone(),
                    tier: x.tier.clone(),
                    price: lang.money(x.price, &s.currency),
                    available: lang.number(x.available.into()),
                    seats: lang.number(x.seats.into()),
                })
                .collect();
        }
        v
    }

    pub fn opens_at_us(&self) -> i64 {
        self.opens.as_ref().map_or(0, |t| t.us)
    }
}

#[derive(Template)]
#[template(path = "sale.html")]
pub struct SalePage {
    pub c: Chrome,
    pub s: SaleView,
    /// The sale's log names people by pseudonym, so it is published once closed.
    pub log_sealed: bool,
    /// The server takes card payments (a gateway is configured).
    pub card: bool,
    /// How a card payment the gateway just sent the buyer back from ended:
    /// its catalogue key (`pay.result.paid`, …), or empty.
    pub payment_key: &'static str,
    /// `ok`, `warn` or `error`: how the result is shown.
    pub payment_tone: &'static str,
}

/// The message for `?payment=` on the sale page, where the gateway's return sends the buyer.
fn payment_result(uri: &Uri) -> (&'static str, &'static str) {
    let value = uri.query().unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("payment="));
    match value {
        Some("paid") => ("pay.result.paid", "ok"),
        Some("declined") => ("pay.result.declined", "warn"),
        Some("refunded") => ("pay.result.refunded", "warn"),
        Some("pending") => ("pay.result.pending", "warn"),
        Some(_) => ("pay.result.error", "error"),
        None => ("", ""),
    }
}

/// `GET /sales/{id}`: the sale's page, or a human 404.
pub async fn sale(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "sales");
    // A deleted (archived) sale is gone for buyers; its organizer still reaches its dashboard.
    let Some(handle) = parse_id(&id, "sale").ok().and_then(|id| state.engine.sale(id)).filter(|h| !h.archived) else {
        return not_found_page(c);
    };
    let s = SaleView::new(c.lang, &Summary::of(&handle, c.lang));
    let (payment_key, payment_tone) = payment_result(&uri);
    let card = state.gateway.is_some();
    render(StatusCode::OK, &SalePage { c, s, log_sealed: handle.sealed, card, payment_key, payment_tone })
}

/// A stock hold on "my page".
#[derive(Clone, Debug)]
pub struct HoldRow {
    pub id: u64,
    pub sale_id: u64,
    pub sale_title: String,
    pub quantity: u32,
    pub amount: String,
    pub expires: Option<TimeView>,
}

/// A stock order on "my page".
#[derive(Clone, Debug)]
pub struct OrderRow {
    pub id: u64,
    /// Unique across the platform; the number alone repeats in every sale.
    pub reference: String,
    pub sale_id: u64,
    pub sale_title: String,
    pub quantity: u32,
    pub amount: String,
    pub status: &'static str,
    /// How it was paid, when from the wallet (paid, refunded, partly refunded).
    pub payment: Option<PaymentView>,
}

/// What the wallet paid for an order and got back: `paid`, `refunded` or
/// `partly_refunded`, with the amounts in words.
#[derive(Clone, Debug)]
pub struct PaymentView {
    pub status: &'static str,
    pub label: String,
    pub text: String,
}

impl PaymentView {
    /// `None` for an order the wallet did not pay (a free one), or when the
    /// ledger cannot be read now (the page then shows the order without it).
    async fn of(state: &AppState, lang: Lang, sale: u64, order: u64, released: &[u32]) -> Option<PaymentView> {
        use crate::routes::common::pay::{paid_for, refunded_for};
        let paid = paid_for(state, sale, order).await.ok()?;
        if paid.minor() == 0 {
            return None;
        }
        let refunded = refunded_for(state, sale, order, released).await.ok()?;
        Self::from_amounts(lang, paid.minor(), refunded.minor())
    }

    /// From what was paid and refunded; `None` when nothing was paid.
    fn from_amounts(lang: Lang, paid: u64, refunded: u64) -> Option<PaymentView> {
        let status = match refunded {
            _ if paid == 0 => return None,
            0 => "paid",
            r if r >= paid => "refunded",
            _ => "partly_refunded",
        };
        let mut text = lang.t("order.paid_amount").replace("{amount}", &lang.money(paid, "KRW"));
        if refunded > 0 {
            text.push_str(" · ");
            text.push_str(&lang.t("order.refunded_amount").replace("{amount}", &lang.money(refunded, "KRW")));
        }
        Some(PaymentView { status, label: lang.t(&format!("order.status.{status}")).to_owned(), text })
    }
}

/// The wallet on "my page": balance, available, reserved, statement.
#[derive(Clone, Debug)]
pub struct WalletView {
    pub balance: String,
    pub available: String,
    /// What payments in progress reserve, when anything.
    pub pending: Option<String>,
    pub lines: Vec<WalletLineView>,
}

/// One statement line on "my page".
#[derive(Clone, Debug)]
pub struct WalletLineView {
    pub kind: String,
    /// Signed: "+₩1,000,000", "−₩3,000".
    pub amount: String,
    pub incoming: bool,
    pub state: String,
    pub order: Option<String>,
    pub at: Option<TimeView>,
}

impl WalletView {
    fn of(lang: Lang, w: &crate::routes::wallet::wire::WalletOut) -> WalletView {
        let money = |v: u64| lang.money(v, w.currency);
        WalletView {
            balance: money(w.balance),
            available: money(w.available),
            pending: (w.pending > 0).then(|| money(w.pending)),
            lines: w
                .statement
                .iter()
                .map(|l| WalletLineView {
                    kind: lang.t(&format!("wallet.kind.{}", l.kind)).to_owned(),
                    amount: format!("{}{}", if l.amount >= 0 { "+" } else { "−" }, money(l.amount.unsigned_abs())),
                    incoming: l.amount >= 0,
                    state: lang.t(&format!("wallet.state.{}", l.state)).to_owned(),
                    order: l.order.clone(),
                    at: TimeView::at(lang, Some(l.at_us)),
                })
                .collect(),
        }
    }
}

/// One seat of a seat hold or order on "my page", which its booker may give
/// back or change.
#[derive(Clone, Debug)]
pub struct SeatItem {
    pub id: u32,
    /// "Floor B-4".
    pub name: String,
    /// The section's name, so a swap can offer free seats there first.
    pub section: String,
}

/// A seat hold or order on "my page".
#[derive(Clone, Debug)]
pub struct SeatRow {
    pub id: u64,
    pub reference: String,
    pub sale_id: u64,
    pub sale_title: String,
    pub status: &'static str,
    pub seats: String,
    /// The seats one by one, for giving back or changing one.
    pub seat_items: Vec<SeatItem>,
    /// "Given back: Floor B-5" when seats were given back or changed.
    pub released: Option<String>,
    pub amount: String,
    pub currency: String,
    pub expires: Option<TimeView>,
    /// Whether the viewer booked it (only the booker may confirm or cancel).
    pub mine: bool,
    /// "Your seat: Floor B-4" when a friend booked it and some seats are the viewer's.
    pub for_me: Option<String>,
    /// The seats given back, by id: which refunds to look for.
    pub released_ids: Vec<u32>,
    /// How it was paid, when from the wallet.
    pub payment: Option<PaymentView>,
}

#[derive(Template)]
#[template(path = "me.html")]
pub struct MePage {
    pub c: Chrome,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub holds: Vec<HoldRow>,
    pub orders: Vec<OrderRow>,
    pub seats: Vec<SeatRow>,
    pub wallet: WalletView,
    /// "My tickets" (`me_tickets.html`, from [`super::tickets`]).
    pub tickets: Vec<super::tickets::TicketView>,
}

/// `GET /me`: my holds (with their timers), orders and seats; signed-out
/// viewers are sent to log in first.
pub async fn me(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "me");
    let Some(user) = c.user.clone() else { return see_other("/login?next=%2Fme") };
    let lang = c.lang;
    let title = |sale_id: u64| {
        state.engine.sale(sale_id).map(|h| h.config.text_in(lang.code()).0.to_owned()).unwrap_or_default()
    };
    let currency =
        |sale_id: u64| state.engine.sale(sale_id).map_or_else(|| "KRW".to_owned(), |h| h.config.currency.clone());
    let read = async {
        let holds = crate::routes::sales::my_holds(State(state.clone()), user.auth).await?.0.holds;
        let orders = crate::routes::sales::my_orders(State(state.clone()), user.auth).await?.0.orders;
        let seats = crate::routes::seats::my_seats(State(state.clone()), user.auth).await?.0.seats;
        let wallet = crate::routes::wallet::my_wallet(State(state.clone()), user.auth).await?.0;
        let tickets = super::tickets::my_ticket_views(&state, lang, user.id).await?;
        Ok::<_, crate::problem::ApiError>((holds, orders, seats, wallet, tickets))
    };
    let (holds, orders, seats, wallet, tickets) = match read.await {
        Ok(v) => v,
        Err(e) => return error_page(c, &e),
    };
    let holds = holds
        .iter()
        .map(|h| HoldRow {
            id: h.id,
            sale_id: h.sale_id,
            sale_title: title(h.sale_id),
            quantity: h.quantity,
            amount: lang.money(h.amount, &currency(h.sale_id)),
            expires: TimeView::new(lang, Some(&h.expires_at)),
        })
        .collect();
    let mut orders: Vec<OrderRow> = orders
        .iter()
        .map(|o| OrderRow {
            id: o.id,
            reference: o.reference.clone(),
            sale_id: o.sale_id,
            sale_title: title(o.sale_id),
            quantity: o.quantity,
            amount: lang.money(o.amount, &currency(o.sale_id)),
            status: o.status,
            payment: o.payment.as_ref().and_then(|p| PaymentView::from_amounts(lang, p.paid, p.refunded)),
        })
        .collect();
    orders.reverse();
    let mut seats: Vec<SeatRow> = seats
        .iter()
        .filter(|h| matches!(h.status, "held" | "confirmed" | "refunded"))
        .map(|h| SeatRow {
            id: h.id,
            reference: h.reference.clone(),
            sale_id: h.sale_id,
            sale_title: title(h.sale_id),
            status: h.status,
            seats: h
                .seats
                .iter()
                .map(|s| format!("{} {}-{}", s.section, s.row, s.label))
                .collect::<Vec<_>>()
                .join(", "),
            seat_items: h
                .seats
                .iter()
                .map(|s| SeatItem {
                    id: s.id,
                    name: format!("{} {}-{}", s.section, s.row, s.label),
                    section: s.section.clone(),
                })
                .collect(),
            released: (!h.released.is_empty()).then(|| {
                let names: Vec<String> =
                    h.released.iter().map(|s| format!("{} {}-{}", s.section, s.row, s.label)).collect();
                lang.t("me.released_list").replace("{seats}", &names.join(", "))
            }),
            amount: lang.money(h.amount, &h.currency),
            currency: h.currency.clone(),
            expires: if h.status == "held" { TimeView::new(lang, Some(&h.expires_at)) } else { None },
            mine: h.booker_id == user.id,
            for_me: {
                let mine: Vec<String> = h
                    .seats
                    .iter()
                    .filter(|s| s.holder_id == user.id)
                    .map(|s| format!("{} {}-{}", s.section, s.row, s.label))
                    .collect();
                (h.booker_id != user.id && !mine.is_empty())
                    .then(|| lang.t("me.your_seats").replace("{seats}", &mine.join(", ")))
            },
            released_ids: h.released.iter().map(|s| s.id).collect(),
            payment: None,
        })
        .collect();
    seats.reverse();
    for row in &mut seats {
        if row.mine {
            row.payment = PaymentView::of(&state, lang, row.sale_id, row.id, &row.released_ids).await;
        }
    }
    let account = state.store.user(stampede_store::UserId(user.id));
    let page = MePage {
        name: user.name.clone(),
        email: account.map(|u| u.email).unwrap_or_default(),
        role: user.role,
        holds,
        orders,
        seats,
        wallet: WalletView::of(lang, &wallet),
        tickets,
        c,
    };
    render(StatusCode::OK, &page)
}

/// A page with a title, a paragraph and a link: 404s and errors.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub c: Chrome,
    pub title: String,
    pub body: String,
    pub link_href: String,
    pub link_text: String,
}

/// The human 404 page.
pub fn not_found_page(c: Chrome) -> Response {
    let page = MessagePage {
        title: c.t("notfound.title").to_owned(),
        body: c.t("notfound.body").to_owned(),
        link_href: "/".to_owned(),
        link_text: c.t("notfound.home").to_owned(),
        c,
    };
    render(StatusCode::NOT_FOUND, &page)
}

/// A failure reading what the page shows (overload, an unwritable log).
pub(super) fn error_page(c: Chrome, e: &crate::problem::ApiError) -> Response {
    let status = e.status;
    let page = MessagePage {
        title: c.t("error.title").to_owned(),
        body: c.t("error.body").to_owned(),
        link_href: c.here.clone(),
        link_text: c.t("error.retry").to_owned(),
        c,
    };
    let mut res = render(status, &page);
    if let Some(s) = e.retry_after_s {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    res.into_response()
}

/// The human 403 page for participants on organizer pages.
fn forbidden_page(c: Chrome) -> Response {
    let page = MessagePage {
        title: c.t("org.forbidden_title").to_owned(),
        body: c.t("org.forbidden_body").to_owned(),
        link_href: "/".to_owned(),
        link_text: c.t("notfound.home").to_owned(),
        c,
    };
    render(StatusCode::FORBIDDEN, &page)
}

/// The organizer pages' gate: signed-out viewers log in first, others get a 403.
fn organizer_gate(c: Chrome) -> Result<(Chrome, SignedIn), Box<Response>> {
    let Some(user) = c.user.clone() else {
        let next = super::url_encode(&c.here);
        return Err(Box::new(see_other(&format!("/login?next={next}"))));
    };
    if !c.organizes() {
        return Err(Box::new(forbidden_page(c)));
    }
    Ok((c, user))
}

/// One of the organizer's sales on `/organizer`.
#[derive(Clone, Debug)]
pub struct OrganizerRow {
    pub card: Card,
    pub total: String,
}

#[derive(Template)]
#[template(path = "organizer.html")]
pub struct OrganizerPage {
    pub c: Chrome,
    pub role: &'static str,
    pub sales: Vec<OrganizerRow>,
}

/// `GET /organizer`: the viewer's sales (an admin's: everybody's), newest first.
pub async fn organizer(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "organizer");
    let (c, user) = match organizer_gate(c) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let lang = c.lang;
    let mut sales: Vec<OrganizerRow> = state
        .engine
        .sales()
        .iter()
        .filter(|h| user.role == "admin" || h.config.owner.0 == user.id)
        .map(|h| {
            let s = Summary::of(h, lang);
            let total = if let Some(st) = &s.stock {
                lang.number(st.total)
            } else if let Some(d) = &s.drop {
                lang.number(d.winners.into())
            } else if let Some(se) = &s.seated {
                lang.number(se.total.into())
            } else {
                String::new()
            };
            OrganizerRow { card: Card::new(lang, &s), total }
        })
        .collect();
    sales.reverse();
    render(StatusCode::OK, &OrganizerPage { role: user.role, c, sales })
}

#[derive(Template)]
#[template(path = "organizer_new.html")]
pub struct OrganizerNewPage {
    pub c: Chrome,
    pub role: &'static str,
}

/// `GET /organizer/new`: the form that creates a sale (its script posts it).
pub async fn organizer_new(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "organizer");
    match organizer_gate(c) {
        Ok((c, user)) => render(StatusCode::OK, &OrganizerNewPage { role: user.role, c }),
        Err(res) => *res,
    }
}

#[derive(Template)]
#[template(path = "organizer_sale.html")]
pub struct OrganizerSalePage {
    pub c: Chrome,
    pub role: &'static str,
    pub s: SaleView,
}

/// `GET /organizer/sales/{id}`: a sale's live dashboard, for its organizer and admins.
pub async fn organizer_sale(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "organizer");
    let (c, user) = match organizer_gate(c) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let Some(handle) = parse_id(&id, "sale").ok().and_then(|id| state.engine.sale(id)) else {
        return not_found_page(c);
    };
    if user.role != "admin" && handle.config.owner.0 != user.id {
        return forbidden_page(c);
    }
    let s = SaleView::new(c.lang, &Summary::of(&handle, c.lang));
    render(StatusCode::OK, &OrganizerSalePage { role: user.role, c, s })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_is_the_viewers() {
        // 2026-11-22T20:00:00Z is 2026-11-23 05:00 in Seoul.
        let us = 1_795_377_600 * stampede_core::US_PER_S;
        let h = 3600 * stampede_core::US_PER_S;
        assert_eq!(next_midnight_us(Lang::En, us), us + 4 * h);
        assert_eq!(next_midnight_us(Lang::Ko, us), us + 19 * h);
    }
}
