//! What the system routes answer.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct StatsOut {
    pub ws_open: u64,
    pub ws_peak: u64,
    pub rss_kb: Option<u64>,
    pub open_files_limit: Option<u64>,
}
