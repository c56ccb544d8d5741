//! The gate page, `GET /sales/{id}/gate`: where staff at the doors scan
//! tickets (its script, `assets/js/gate.js`, does the scanning, the
//! check-in calls and the offline mode). Signed-out viewers log in first;
//! the sale's organizer and admins may open it, others get a human 403.
//! Staff accounts named for a sale will be let in here once the check-in
//! book knows them.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::pages::{MessagePage, not_found_page};
use super::{Chrome, render, see_other, url_encode};
use crate::AppState;
use crate::extract::parse_id;

#[derive(Template)]
#[template(path = "gate.html")]
pub struct GatePage {
    pub c: Chrome,
    pub sale_id: u64,
    pub title: String,
}

/// `GET /sales/{id}/gate`.
pub async fn gate(State(state): State<AppState>, headers: HeaderMap, uri: Uri, Path(id): Path<String>) -> Response {
    let c = Chrome::from_request(&state, &headers, &uri, "organizer");
    let Some(user) = c.user.clone() else {
        return see_other(&format!("/login?next={}", url_encode(&c.here)));
    };
    let Some(handle) = parse_id(&id, "sale").ok().and_then(|id| state.engine.sale(id)) else {
        return not_found_page(c);
    };
    if user.role != "admin" && handle.config.owner.0 != user.id {
        let page = MessagePage {
            title: c.t("gate.forbidden_title").to_owned(),
            body: c.t("gate.forbidden_body").to_owned(),
            link_href: format!("/sales/{}", handle.id),
            link_text: c.t("gate.to_sale").to_owned(),
            c,
        };
        return render(StatusCode::FORBIDDEN, &page);
    }
    let title = handle.config.text_in(c.lang.code()).0.to_owned();
    render(StatusCode::OK, &GatePage { sale_id: handle.id, title, c })
}
