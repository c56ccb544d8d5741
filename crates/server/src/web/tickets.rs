//! The holder's side of a ticket: the ticket page, `GET /tickets/{sale}/{ticket}`
//! (the QR code drawn inline, the seat or unit, the sale and its time, the
//! holder, the state, and handing it to a friend; its script is
//! `assets/js/ticket_page.js`), and the "My tickets" list that "my page"
//! includes (`templates/me_tickets.html`).
//!
//! Only the holder sees a ticket here: anyone else, the organizer included,
//! gets the human 404, because whether a ticket exists is nobody else's
//! business and the organizer's view of tickets is the dashboard. The QR
//! text is the API's ([`crate::routes::tickets::ticket_out`]): signed on the
//! way out, and only while the ticket is valid, so a used or revoked ticket
//! shows no code to photograph.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use stampede_views::{TicketRow, TicketState};

use super::i18n::Lang;
use super::pages::{error_page, not_found_page};
use super::qr::qr_svg;
use super::{Chrome, render, see_other, url_encode};
use crate::AppState;
use crate::extract::parse_id;
use crate::routes::tickets::{TicketOut, ticket_out};

/// Tickets "my page" lists (newest sale first); the rest are one link away
/// in `GET /api/me/tickets`. Each valid one carries its QR drawing (about
/// 3 KB), so this bounds the page's weight.
pub const MY_TICKETS_SHOWN_MAX: usize = 50;

/// A ticket as the pages show it.
#[derive(Clone, Debug)]
pub struct TicketView {
    pub sale_id: u64,
    pub ticket: u64,
    pub href: String,
    pub sale_title: String,
    /// "Seat Floor A-3" or "Ticket 2 of the order".
    pub place: String,
    pub holder: String,
    /// `valid`, `admitted` or `revoked`.
    pub state: &'static str,
    /// The state in words: "Valid", "Used at 19:02 KST", "Revoked: refunded".
    pub state_text: String,
    /// "Handed to you by a friend" for a ticket past its first generation.
    pub received: bool,
    /// The inline `<svg>` of the QR code: only for the holder, only while valid.
    pub qr_svg: Option<String>,
    pub opens_text: Option<String>,
    pub opens_iso: Option<String>,
}

/// `HH:MM` in the page's zone (Korean pages KST, English ones UTC, as
/// [`Lang::datetime`] writes them).
fn clock_text(lang: Lang, us: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_microsecond(us) else { return String::new() };
    let (offset_h, zone) = match lang {
        Lang::Ko => (9, "KST"),
        Lang::En => (0, "UTC"),
    };
    let dt = ts.to_zoned(jiff::tz::offset(offset_h).to_time_zone());
    format!("{:02}:{:02} {zone}", dt.hour(), dt.minute())
}

impl TicketView {
    /// `out` for `lang`'s viewer; `row` for what the wire form leaves out.
    pub fn new(state: &AppState, lang: Lang, row: &TicketRow, out: &TicketOut) -> TicketView {
        let config = state.engine.sale(row.sale).map(|h| h.config.clone());
        let place = match (&out.place.seat, out.place.unit) {
            (Some(seat), _) => lang.t("tickets.seat").replace("{seat}", seat),
            (None, Some(unit)) => lang.t("tickets.unit").replace("{unit}", &unit.to_string()),
            (None, None) => lang.t("tickets.ticket_no").replace("{ticket}", &row.ticket.to_string()),
        };
        let state_text = match row.state {
            TicketState::Valid => lang.t("tickets.state.valid").to_owned(),
            TicketState::Admitted => {
                lang.t("tickets.state.admitted").replace("{time}", &clock_text(lang, row.changed_at_us))
            }
            TicketState::Revoked => lang.t("tickets.state.revoked").to_owned(),
        };
        let title = config.as_ref().map_or_else(|| out.sale_title.clone(), |c| c.text_in(lang.code()).0.to_owned());
        let label = format!("{} · {} · {place}", lang.t("tickets.qr_label"), title);
        let qr_svg = out.qr.as_deref().and_then(|text| match qr_svg(text, &label) {
            Ok(svg) => Some(svg),
            Err(e) => {
                // Ticket text is base32 of a bounded payload: this is a bug, not the viewer's doing.
                tracing::error!(error = %e, sale = row.sale, ticket = row.ticket, "a ticket's QR code cannot be drawn");
                None
            }
        });
        let opens = config.as_ref().and_then(|c| c.opens_at_us);
        TicketView {
            sale_id: row.sale,
            ticket: row.ticket,
            href: format!("/tickets/{}/{}", row.sale, row.ticket),
            sale_title: title,
            place,
            holder: out.holder.clone(),
            state: row.state.as_str(),
            state_text,
            received: row.generation > 1,
            qr_svg,
            opens_text: opens.map(|us| lang.datetime(us)),
            opens_iso: opens.map(crate::routes::common::wire::fmt_us),
        }
    }
}

/// A friend the ticket may be handed to.
#[derive(Clone, Debug)]
pub struct FriendChoice {
    pub id: u64,
    pub name: String,
}

#[derive(Template)]
#[template(path = "ticket.html")]
pub struct TicketPage {
    pub c: Chrome,
    pub t: TicketView,
    pub friends: Vec<FriendChoice>,
}

/// `GET /tickets/{sale}/{ticket}`: the holder's ticket; a human 404 for
/// anyone else; signed-out viewers log in first.
pub async fn ticket_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path((sale, ticket)): Path<(String, String)>,
) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "me");
    let Some(user) = c.user.clone() else {
        return see_other(&format!("/login?next={}", url_encode(&c.here)));
    };
    let (Ok(sale), Ok(ticket)) = (parse_id(&sale, "sale"), parse_id(&ticket, "ticket")) else {
        return not_found_page(c);
    };
    let row = match crate::projections::read(&state, move |v| v.ticket(sale, ticket)).await {
        Ok(row) => row,
        Err(e) => return error_page(c, &e),
    };
    let Some(row) = row.filter(|r| r.holder == user.id) else { return not_found_page(c) };
    let out = ticket_out(&state, &row, user.id);
    let view = TicketView::new(&state, c.lang, &row, &out);
    let friends = if row.state == TicketState::Valid {
        let store = state.store.clone();
        let me = stampede_store::UserId(user.id);
        match tokio::task::spawn_blocking(move || store.friends_of(me)).await {
            Ok(Ok(list)) => list.into_iter().map(|f| FriendChoice { id: f.person.id.0, name: f.person.name }).collect(),
            // The ticket still shows; only handing it on waits for another try.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "listing friends for the ticket page failed");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(error = %e, "listing friends for the ticket page failed");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    render(StatusCode::OK, &TicketPage { c, t: view, friends })
}

/// "My tickets" for `viewer`: at most [`MY_TICKETS_SHOWN_MAX`], newest sale first.
pub async fn my_ticket_views(
    state: &AppState,
    lang: Lang,
    viewer: u64,
) -> Result<Vec<TicketView>, crate::problem::ApiError> {
    let rows = crate::projections::read(state, move |v| v.tickets_of(viewer)).await?;
    Ok(rows
        .iter()
        .take(MY_TICKETS_SHOWN_MAX)
        .map(|row| TicketView::new(state, lang, row, &ticket_out(state, row, viewer)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_the_pages_zone() {
        // 2026-11-22T20:05:00Z is 05:05 the next day in Seoul.
        let us = "2026-11-22T20:05:00Z".parse::<jiff::Timestamp>().expect("time").as_microsecond();
        assert_eq!(clock_text(Lang::Ko, us), "05:05 KST");
        assert_eq!(clock_text(Lang::En, us), "20:05 UTC");
    }
}
