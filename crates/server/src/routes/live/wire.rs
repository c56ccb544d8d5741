//! What the live socket's route reads: which streams a page wants. The
//! messages themselves are `crate::live::LiveMessage`.

use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// Also stream `dashboard` messages: only for the sale's organizer or an admin.
    #[serde(default)]
    pub dashboard: bool,
    /// Also stream the seat map (`seats` messages) of a seated sale; a sale
    /// without seats has none to send.
    #[serde(default)]
    pub seats: bool,
}
