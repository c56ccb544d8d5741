//! What the waiting-room routes read and answer (the live status message
//! they share with the sockets is in `routes::common::wire`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct JoinRequest {
    pub nonce: u64,
}

#[derive(Deserialize, ToSchema)]
pub struct PowRequest {
    #[schema(minimum = 0, maximum = 28)]
    pub pow_bits: i64,
}

/// A person's place in a waiting room, with their pass while it is valid.
#[derive(Serialize, ToSchema)]
pub struct QueueTicketOut {
    pub sale_id: u64,
    pub ticket: u32,
    pub place: Option<u32>,
    pub admitted: bool,
    pub pass_state: &'static str,
    pub pass: Option<String>,
    pub pass_expires_at: Option<String>,
    pub pass_expires_at_us: Option<i64>,
    /// The most one person may buy in this sale (a drop: one click); a pass
    /// is good for its whole lifetime up to this many.
    pub per_person_limit: u32,
    /// Units bought with the pass while it was live (refunds do not lower it).
    pub bought: u32,
    /// How many more the live pass allows (0 once it ended).
    pub pass_left: u32,
    /// When the pass ended (`pass_state` `used` or `expired`). Nobody joins a
    /// sale's line twice, so an ended pass is not given again.
    pub pass_ended_at: Option<String>,
    pub pass_ended_at_us: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PassKeyOut {
    pub algorithm: &'static str,
    pub public_key: String,
}
