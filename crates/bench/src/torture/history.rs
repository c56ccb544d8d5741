//! What the torture clients sent and what they were told: one [`Sent`] per
//! command, with its idempotency key, what the server answered (or that the
//! answer was lost in a kill), and the few fields of the answer the model
//! checker needs. Bodies are kept as a blake3 digest, enough to tell whether a
//! resend was answered identically.

/// The kind of sale a command went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SaleKind {
    /// A stock sale anyone signed in may buy from.
    Stock,
    /// A stock sale behind a waiting room (`active` admission): buying needs a pass.
    Room,
    /// A seated sale: holds of named seats.
    Seated,
    /// A first-come drop.
    Drop,
}

impl SaleKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SaleKind::Stock => "stock",
            SaleKind::Room => "stock behind a waiting room",
            SaleKind::Seated => "seated",
            SaleKind::Drop => "drop",
        }
    }
}

/// One command on a sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// `POST /holds {"quantity"}` (stock sales).
    Hold {
        quantity: u32,
    },
    /// `POST /seats/holds {"seats"}`.
    SeatHold {
        seats: Vec<u32>,
    },
    Confirm {
        hold: u64,
    },
    Cancel {
        hold: u64,
    },
    Refund {
        hold: u64,
    },
    /// `POST /clicks`.
    Click,
}

/// What the answer said, as far as the checker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    Nothing,
    Hold { id: u64, quantity: u32 },
    SeatHold { id: u64, seats: Vec<u32> },
    Click { rank: u64, at_us: i64 },
}

/// A final answer (never a `503`: those are retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answered {
    pub status: u16,
    /// blake3 of the body.
    pub digest: [u8; 32],
    /// The problem `type` of a refusal.
    pub problem: Option<String>,
    pub read: Read,
}

impl Answered {
    pub(crate) fn acked(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// How a command ended for its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Answered(Answered),
    /// The answer was lost (the server was killed while the command was in
    /// flight) and the client gave up: it may or may not have taken effect.
    Unknown,
}

/// One command as its client sent it.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    /// The client (index into the run's users).
    pub user: usize,
    pub sale: u64,
    pub kind: SaleKind,
    pub op: Op,
    pub key: String,
    /// How many keys this user had sent to this sale before this one: the
    /// server remembers only the newest `KEYS_REMEMBERED` per person per sale.
    pub key_index: u32,
    pub outcome: Outcome,
}

impl Sent {
    pub(crate) fn answered(&self) -> Option<&Answered> {
        match &self.outcome {
            Outcome::Answered(a) => Some(a),
            Outcome::Unknown => None,
        }
    }

    pub(crate) fn acked(&self) -> Option<&Answered> {
        self.answered().filter(|a| a.acked())
    }

    pub(crate) fn unknown(&self) -> bool {
        matches!(self.outcome, Outcome::Unknown)
    }
}

/// The server's idempotency memory per person per sale (docs/API.md: 1024);
/// a resend is only compared while its key is among the newest this many.
pub(crate) const KEYS_REMEMBERED: u32 = 1000;
