//! Version 1 of the ticket records: a gate letting a ticket in, an offline
//! gate's scans, a holder handing a ticket on. Tickets themselves are not
//! logged: the sale issues and revokes them as its orders are paid and
//! refunded, so replaying the orders rebuilds them. Written once; decoded
//! the same way forever.

use serde::{Deserialize, Serialize};
use stampede_core::{
    CheckinOutcome, GateId, OfflineScan, ScanVerdict, SeatId, TicketAction, TicketId, TicketPayload, TicketPlace,
    UserId,
};

use super::OutcomeV1;

/// A ticket as a gate read it: `{"sale":1,"ticket":3,"seat":17,"holder":9,"generation":1}`
/// (`"unit": n` in place of `"seat"` in a sale without seats).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketV1 {
    pub sale: u64,
    pub ticket: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<u32>,
    pub holder: u64,
    pub generation: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanV1 {
    pub nonce: u64,
    pub scanned_at_us: i64,
    pub ticket: TicketV1,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketActionV1 {
    Admit { gate: u64, ticket: TicketV1 },
    SyncScans { gate: u64, scans: Vec<ScanV1> },
    TransferTicket { ticket: u64, to: u64 },
}

impl TicketActionV1 {
    /// The names it is written under; `de.rs` reads a name's record with this part.
    pub const NAMES: &[&str] = &["admit", "sync_scans", "transfer_ticket"];
}

impl From<&TicketPayload> for TicketV1 {
    fn from(t: &TicketPayload) -> Self {
        let (unit, seat) = match t.place {
            TicketPlace::Unit(n) => (Some(n), None),
            TicketPlace::Seat(s) => (None, Some(s.0)),
        };
        TicketV1 { sale: t.sale, ticket: t.ticket.0, unit, seat, holder: t.holder.0, generation: t.generation }
    }
}

impl From<TicketV1> for TicketPayload {
    fn from(t: TicketV1) -> Self {
        // A record with neither (or both) is not one this code wrote; the
        // unit it decodes to names no ticket, so a replay refuses it again.
        let place = match (t.seat, t.unit) {
            (Some(s), None) => TicketPlace::Seat(SeatId(s)),
            (None, Some(n)) => TicketPlace::Unit(n),
            _ => TicketPlace::Unit(0),
        };
        TicketPayload {
            sale: t.sale,
            ticket: TicketId(t.ticket),
            place,
            holder: UserId(t.holder),
            generation: t.generation,
        }
    }
}

impl From<&TicketAction> for TicketActionV1 {
    fn from(a: &TicketAction) -> Self {
        match a {
            TicketAction::Admit { gate, ticket } => TicketActionV1::Admit { gate: gate.0, ticket: ticket.into() },
            TicketAction::Sync { gate, scans } => TicketActionV1::SyncScans {
                gate: gate.0,
                scans: scans
                    .iter()
                    .map(|s| ScanV1 { nonce: s.nonce, scanned_at_us: s.scanned_at_us, ticket: (&s.ticket).into() })
                    .collect(),
            },
            TicketAction::Transfer { ticket, to } => TicketActionV1::TransferTicket { ticket: ticket.0, to: to.0 },
        }
    }
}

impl From<TicketActionV1> for TicketAction {
    fn from(a: TicketActionV1) -> Self {
        match a {
            TicketActionV1::Admit { gate, ticket } => TicketAction::Admit { gate: GateId(gate), ticket: ticket.into() },
            TicketActionV1::SyncScans { gate, scans } => TicketAction::Sync {
                gate: GateId(gate),
                scans: scans
                    .into_iter()
                    .map(|s| OfflineScan { nonce: s.nonce, scanned_at_us: s.scanned_at_us, ticket: s.ticket.into() })
                    .collect(),
            },
            TicketActionV1::TransferTicket { ticket, to } => {
                TicketAction::Transfer { ticket: TicketId(ticket), to: UserId(to) }
            }
        }
    }
}

/// The summary of a ticket action's outcome: the ticket in `hold`, its
/// generation in `quantity`, a refusal's code or an offline sync's verdicts
/// (comma-separated: `admitted`, `conflict:<code>`, `nonce-reused`) in `reason`.
pub fn summary(o: &CheckinOutcome) -> OutcomeV1 {
    let ticket = |t: TicketId, generation: u32, name: &str| OutcomeV1 {
        hold: Some(t.0),
        quantity: Some(generation),
        ..OutcomeV1::named(name)
    };
    match o {
        CheckinOutcome::Issued(t) => ticket(t.ticket, t.generation, "ticket_issued"),
        CheckinOutcome::Refunded { ticket: t, generation } => ticket(*t, *generation, "ticket_revoked"),
        CheckinOutcome::Transferred { ticket: t, .. } => ticket(t.ticket, t.generation, "ticket_transferred"),
        CheckinOutcome::Admitted(a) => ticket(a.ticket, a.generation, "ticket_admitted"),
        CheckinOutcome::Refused(r) => {
            OutcomeV1 { reason: Some(r.code().to_owned()), ..OutcomeV1::named("ticket_refused") }
        }
        CheckinOutcome::Synced(verdicts) => {
            let words: Vec<String> = verdicts
                .iter()
                .map(|v| match v {
                    ScanVerdict::Admitted => "admitted".to_owned(),
                    ScanVerdict::Conflict(r) => format!("conflict:{}", r.code()),
                    ScanVerdict::NonceReused => "nonce-reused".to_owned(),
                })
                .collect();
            OutcomeV1 { reason: Some(words.join(",")), ..OutcomeV1::named("scans_synced") }
        }
    }
}
