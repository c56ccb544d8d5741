//! The durable record format: what one log entry's payload says. The
//! envelope (`create`, `cmd`, `tick`, the version) is here; what a version's
//! records say is in its module, one module per kind (`v1/`).
//!
//! These types are the published, replayable log, so they are deliberately not
//! the core's types: the core may reshape its structs freely, while a record
//! written today must decode the same way forever. Each record carries `v`; a
//! decoder meeting an unknown version refuses rather than guessing.
//!
//! A command record stores its outcome's summary too, so `stampede verify` can
//! replay the log and check that every recorded answer is the one the rules give.
//!
//! Version 2 is version 1 with people sealed ([`crate::persons`]): the JSON
//! is the same, but every person and address tag in a sale whose `create`
//! record says `"v":2` is that sale's pseudonym, and its idempotency keys are
//! keyed hashes. A sale's records all have its `create` record's version.
//!
//! Versions 3 and 4 are versions 1 and 2 spelled in a compact binary frame
//! instead of JSON ([`binary`]); every sale created since log format v2
//! writes them. The first byte tells the spellings apart (JSON starts with
//! `{`), and both decode to the same [`Record`].

pub mod binary;
pub mod ledger;
pub mod v1;

use serde::{Deserialize, Serialize};
use stampede_core::{
    Action, Command, IdempotencyKey, Input, OfflineScan, Outcome, SaleConfig, SeatedAction, TicketAction,
    TicketPayload, UserId,
};

use crate::persons::{SaleSeal, Unsealer};

pub use v1::{ActionV1, ConfigV1, KindV1, OutcomeV1, TermsV1};

/// Records with people as they are (sales created without a [`crate::persons::PersonKey`]).
pub const RECORD_VERSION: u16 = 1;
/// Records with people sealed as pseudonyms: a sale whose log can be published.
pub const SEALED_RECORD_VERSION: u16 = 2;
pub use binary::{BINARY_RECORD_VERSION, SEALED_BINARY_RECORD_VERSION};

/// Whether records of `version` name people by pseudonym.
pub fn is_sealed(version: u16) -> bool {
    version == SEALED_RECORD_VERSION || version == SEALED_BINARY_RECORD_VERSION
}

/// The version a new sale writes: binary, sealed when it has a seal.
pub fn new_sale_version(sealed: bool) -> u16 {
    if sealed { SEALED_BINARY_RECORD_VERSION } else { BINARY_RECORD_VERSION }
}

/// How to read the people in a sealed record.
#[derive(Clone, Copy, Debug)]
pub enum Persons<'a> {
    /// As they are written: accounts in a version-1 record, pseudonyms in a
    /// version-2 one (a verifier of a published log).
    AsWritten,
    /// Turn a sealed record's pseudonyms back into accounts (the server).
    Unseal(&'a Unsealer),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    Create { v: u16, config: ConfigV1 },
    Cmd { v: u16, by: u64, key: String, action: ActionV1, out: OutcomeV1 },
    Tick { v: u16 },
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record is not valid JSON of a known shape: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("record version {0} is not known to this build")]
    UnknownVersion(u16),
    #[error("record field out of range: {0}")]
    Invalid(&'static str),
    #[error("the first record of a sale must be `create`, and only the first")]
    Misplaced,
    #[error("record version {found} in a sale whose `create` record has version {sale}")]
    VersionMixed { found: u16, sale: u16 },
}

/// Lower-case hex, as the API shows seeds and commitments.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Parses 64 hex digits.
pub fn unhex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digits = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(digits, 16).ok()?;
    }
    Some(out)
}

/// `action` with every person and address tag in it mapped.
fn map_people(action: &Action, person: &dyn Fn(UserId) -> UserId, address: &dyn Fn(u64) -> u64) -> Action {
    let holders = |h: &[UserId]| h.iter().map(|u| person(*u)).collect();
    match action {
        Action::Join { nonce, address: a } => Action::Join { nonce: *nonce, address: address(*a) },
        Action::Seated(SeatedAction::HoldSeats { seats, holders: h }) => {
            Action::Seated(SeatedAction::HoldSeats { seats: seats.clone(), holders: holders(h) })
        }
        Action::Seated(SeatedAction::HoldBest { area, count, holders: h }) => {
            Action::Seated(SeatedAction::HoldBest { area: area.clone(), count: *count, holders: holders(h) })
        }
        Action::Ticket(TicketAction::Admit { gate, ticket }) => Action::Ticket(TicketAction::Admit {
            gate: *gate,
            ticket: TicketPayload { holder: person(ticket.holder), ..*ticket },
        }),
        Action::Ticket(TicketAction::Sync { gate, scans }) => Action::Ticket(TicketAction::Sync {
            gate: *gate,
            scans: scans
                .iter()
                .map(|s| OfflineScan { ticket: TicketPayload { holder: person(s.ticket.holder), ..s.ticket }, ..*s })
                .collect(),
        }),
        Action::Ticket(TicketAction::Transfer { ticket, to }) => {
            Action::Ticket(TicketAction::Transfer { ticket: *ticket, to: person(*to) })
        }
        other => other.clone(),
    }
}

impl Record {
    /// A sale's first record at version 1 (JSON), for tests and fixtures of
    /// JSON logs; new sales write [`Record::create_sealed`]'s.
    pub fn create(config: &SaleConfig) -> Self {
        Record::create_as(config, None, RECORD_VERSION)
    }

    /// A new sale's first record, in the binary spelling; with a seal, at
    /// version 4 with its organizer's pseudonym.
    pub fn create_sealed(config: &SaleConfig, seal: Option<&SaleSeal>) -> Self {
        Record::create_as(config, seal, new_sale_version(seal.is_some()))
    }

    /// A sale's first record at `version` (1 or 3 without a seal, 2 or 4 with one).
    pub fn create_as(config: &SaleConfig, seal: Option<&SaleSeal>, version: u16) -> Self {
        match seal {
            None => Record::Create { v: version, config: config.into() },
            Some(seal) => {
                let mut config = ConfigV1::from(config);
                config.owner = seal.person(UserId(config.owner)).0;
                Record::Create { v: version, config }
            }
        }
    }

    /// A command's or tick's record in a sale of version 1, for tests and
    /// fixtures of JSON logs.
    pub fn from_input(input: &Input, outcome: &Outcome) -> Self {
        Record::from_input_as(input, outcome, None, RECORD_VERSION)
    }

    /// A command's or tick's record at the sale's `version`; with a seal
    /// (versions 2 and 4), with people as pseudonyms (the key was already
    /// replaced before the sale applied it).
    pub fn from_input_as(input: &Input, outcome: &Outcome, seal: Option<&SaleSeal>, v: u16) -> Self {
        match input {
            Input::Command(c) => {
                let (by, action) = match seal {
                    None => (c.by, ActionV1::from(&c.action)),
                    Some(s) => {
                        (s.person(c.by), ActionV1::from(&map_people(&c.action, &|u| s.person(u), &|a| s.address(a))))
                    }
                };
                Record::Cmd { v, by: by.0, key: c.key.as_str().to_owned(), action, out: outcome.into() }
            }
            Input::Tick { .. } => Record::Tick { v },
        }
    }

    /// The record's format version.
    pub fn version(&self) -> u16 {
        match self {
            Record::Create { v, .. } | Record::Cmd { v, .. } | Record::Tick { v } => *v,
        }
    }

    /// The recorded outcome's digest, what a receipt signs: BLAKE3 (in a
    /// domain of its own) of the outcome exactly as a command record encodes
    /// it, so anyone holding the log recomputes it from the entry alone.
    pub fn outcome_digest(out: &OutcomeV1) -> [u8; 32] {
        let mut h = blake3::Hasher::new_derive_key("stampede receipt outcome v1");
        h.update(&serde_json::to_vec(out).unwrap_or_default());
        *h.finalize().as_bytes()
    }

    /// The payload: JSON at versions 1 and 2, the binary frame at 3 and 4.
    pub fn encode(&self) -> Vec<u8> {
        if binary::is_binary(self.version()) {
            return binary::encode(self);
        }
        // Serializing these plain structs cannot fail; an empty payload would
        // still be caught by decode on replay.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.first() != Some(&b'{') {
            return binary::decode(bytes);
        }
        let record: Record = serde_json::from_slice(bytes)?;
        let v = record.version();
        if v != RECORD_VERSION && v != SEALED_RECORD_VERSION {
            return Err(RecordError::UnknownVersion(v));
        }
        Ok(record)
    }

    /// A sale's `create` record's configuration, with its organizer as an
    /// account again when unsealing.
    pub fn config(&self, persons: Persons) -> Result<Option<SaleConfig>, RecordError> {
        let Record::Create { v, config } = self else { return Ok(None) };
        let mut config = SaleConfig::try_from(config.clone())?;
        if let (true, Persons::Unseal(seal)) = (is_sealed(*v), persons) {
            config.owner = seal.person_back(config.owner);
        }
        Ok(Some(config))
    }

    /// [`Record::to_input`] for a record of a sealed sale, read as `persons` says.
    pub fn to_input_as(
        &self,
        at_us: i64,
        persons: Persons,
    ) -> Result<Option<(Input, Option<&OutcomeV1>)>, RecordError> {
        let read = self.to_input(at_us)?;
        let (true, Persons::Unseal(seal), Some((Input::Command(c), out))) = (is_sealed(self.version()), persons, &read)
        else {
            return Ok(read);
        };
        let action = map_people(&c.action, &|u| seal.person_back(u), &|a| seal.address_back(a));
        let cmd = Command { at_us: c.at_us, by: seal.person_back(c.by), key: c.key.clone(), action };
        Ok(Some((Input::Command(cmd), *out)))
    }

    /// The input this record replays as, stamped with the entry's time.
    /// `None` for `create`, which starts the sale instead.
    pub fn to_input(&self, at_us: i64) -> Result<Option<(Input, Option<&OutcomeV1>)>, RecordError> {
        match self {
            Record::Create { .. } => Ok(None),
            Record::Tick { .. } => Ok(Some((Input::Tick { at_us }, None))),
            Record::Cmd { by, key, action, out, .. } => {
                let key = IdempotencyKey::parse(key).map_err(|_| RecordError::Invalid("idempotency key"))?;
                let cmd = Command { at_us, by: UserId(*by), key, action: action.clone().into() };
                Ok(Some((Input::Command(cmd), Some(out))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_core::{
        Action, DropConfig, HoldId, KindConfig, SaleEdit, SaleText, SeatArea, SeatId, SeatedAction, SeatedConfig,
        SeatedTerms, StockAction, StockConfig, TermsEdit,
    };

    #[test]
    fn command_record_round_trips_and_is_readable() {
        let cmd = Command {
            at_us: 5,
            by: UserId(7),
            key: IdempotencyKey::parse("k-1").unwrap_or_else(|_| panic!("valid key")),
            action: Action::Stock(StockAction::Reserve { quantity: 2 }),
        };
        let outcome = Outcome::Rejected(stampede_core::Rejection::SoldOut { available: 1 });
        let rec = Record::from_input(&Input::Command(cmd.clone()), &outcome);
        let bytes = rec.encode();
        let text = String::from_utf8(bytes.clone()).unwrap_or_default();
        assert!(text.contains(r#""reason":"sold-out""#), "{text}");
        let back = Record::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, rec);
        let (input, out) = back.to_input(5).unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("input"));
        assert_eq!(input, Input::Command(cmd));
        assert_eq!(out, Some(&OutcomeV1::from(&outcome)));
    }

    #[test]
    fn seated_sales_and_seat_commands_round_trip() {
        let spec = stampede_core::SectionSpec {
            name: "A".into(),
            tier: "R".into(),
            price: 5,
            colour: "#123456".into(),
            rows: 3,
            seats_per_row: 4,
            x: 0,
            y: 0,
            curve_degrees: 30.0,
            spacing: 10,
        };
        let venue = stampede_core::generate("Hall", &[spec]).unwrap_or_else(|e| panic!("{e}"));
        let config = SaleConfig {
            translations: vec![SaleText { lang: "ko".into(), title: "티".into(), description: String::new() }],
            title: "t".into(),
            description: String::new(),
            owner: UserId(1),
            currency: "KRW".into(),
            opens_at_us: None,
            closes_at_us: None,
            kind: KindConfig::Seated(SeatedConfig {
                venue,
                per_person_limit: 4,
                seats_per_hold_max: 4,
                hold_ttl_us: 10,
            }),
            queue: None,
        };
        let bytes = Record::create(&config).encode();
        let Ok(Record::Create { config: back, .. }) = Record::decode(&bytes) else { panic!("decodes") };
        assert_eq!(SaleConfig::try_from(back).unwrap_or_else(|e| panic!("{e}")), config);
        let actions = [
            Action::Seated(SeatedAction::HoldSeats { seats: vec![SeatId(1), SeatId(2)], holders: vec![] }),
            Action::Seated(SeatedAction::HoldSeats { seats: vec![SeatId(3)], holders: vec![UserId(9)] }),
            Action::Seated(SeatedAction::HoldBest { area: SeatArea::Tier("R".into()), count: 2, holders: vec![] }),
            Action::Seated(SeatedAction::HoldBest { area: SeatArea::Section(0), count: 1, holders: vec![UserId(2)] }),
            Action::Seated(SeatedAction::HoldBest { area: SeatArea::Any, count: 3, holders: vec![] }),
            Action::Seated(SeatedAction::ReleaseSeat { order: HoldId(4), seat: SeatId(7) }),
            Action::Seated(SeatedAction::SwapSeat { order: HoldId(4), from: SeatId(7), to: SeatId(8) }),
            Action::Edit(Box::new(SaleEdit {
                title: Some("New".into()),
                description: None,
                opens_at_us: Some(None),
                closes_at_us: Some(Some(99)),
                terms: Some(TermsEdit::Seated(SeatedTerms {
                    per_person_limit: 2,
                    seats_per_hold_max: 2,
                    hold_ttl_us: 5,
                })),
            })),
            Action::Edit(Box::new(SaleEdit {
                terms: Some(TermsEdit::Stock(StockConfig {
                    stock: 3,
                    price: 4,
                    per_person_limit: 1,
                    order_quantity_max: 1,
                    hold_ttl_us: 6,
                })),
                ..SaleEdit::default()
            })),
            Action::Edit(Box::new(SaleEdit {
                terms: Some(TermsEdit::Drop(DropConfig { winners: 3 })),
                ..SaleEdit::default()
            })),
            Action::Archive,
        ];
        for a in actions {
            let text = serde_json::to_string(&ActionV1::from(&a)).unwrap_or_default();
            let back: ActionV1 = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(Action::from(back), a, "{text}");
        }
    }

    /// A waiting room logged before passes were good up to the per-person
    /// limit has no `pass_up_to_limit`: it replays under the old rule.
    #[test]
    fn a_room_logged_before_the_pass_rule_keeps_one_checkout_per_pass() {
        let old = br#"{"t":"create","v":1,"config":{"title":"t","description":"","owner":1,"currency":"KRW",
            "opens_at_us":null,"closes_at_us":null,
            "kind":{"kind":"stock","stock":10,"price":5,"per_person_limit":2,"order_quantity_max":2,"hold_ttl_us":10},
            "queue":{"policy":{"policy":"active","max":1},"pass_ttl_us":100,"prequeue_opens_at_us":null,"pow_bits":0,
            "places_per_address":4,"seed":"0000000000000000000000000000000000000000000000000000000000000000"}}}"#;
        let Ok(Record::Create { config, .. }) = Record::decode(old) else { panic!("an old create record decodes") };
        let config = SaleConfig::try_from(config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.queue.as_ref().map(|q| q.pass_up_to_limit), Some(false));
        // New sales write the rule down, and read it back.
        let mut new = config.clone();
        if let Some(q) = &mut new.queue {
            q.pass_up_to_limit = true;
        }
        let bytes = Record::create(&new).encode();
        assert!(String::from_utf8_lossy(&bytes).contains(r#""pass_up_to_limit":true"#));
        let Ok(Record::Create { config: back, .. }) = Record::decode(&bytes) else { panic!("decodes") };
        assert_eq!(SaleConfig::try_from(back).unwrap_or_else(|e| panic!("{e}")), new);
    }

    #[test]
    fn unknown_version_is_refused() {
        let bytes = br#"{"t":"tick","v":3}"#;
        assert!(matches!(Record::decode(bytes), Err(RecordError::UnknownVersion(3))));
    }
}
