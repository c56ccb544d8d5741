//! What the seats rush will do: the venue the sale is created with (and the
//! check that `GET venue` numbers it as the seat map assumes), and each
//! user's request, a pure function of its index.

use bytes::Bytes;

use crate::api::VenueLayout;
use crate::seatmap::Numbering;

/// The venue: sections of rows of seats (40 × 25 × 50 = 50,000 seats).
const SECTIONS: u32 = 40;
const ROWS: u32 = 25;
const SEATS_PER_ROW: u32 = 50;
/// Most seats per person and per hold.
const PER_PERSON: u32 = 4;
/// Longer than any run: no acknowledged hold expires during it.
const HOLD_SECONDS: u64 = 600;
/// The hot area: the middle `HOT_WIDTH` seats of the first `HOT_ROWS` rows
/// of the first `HOT_SECTIONS` sections.
const HOT_SECTIONS: usize = 4;
const HOT_ROWS: usize = 2;
const HOT_WIDTH: u32 = 12;

/// `POST /api/sales` for the venue: tiers VIP (the first 8 sections, nearest
/// the stage), R (the next 16) and S (the last 16).
pub(super) fn sale_spec() -> serde_json::Value {
    let sections: Vec<serde_json::Value> = (0..SECTIONS)
        .map(|i| {
            // Free seats: the scenario measures holds and confirms, not
            // payments (a priced hold is confirmed only by paying for it).
            let (tier, price, colour) = match i {
                0..8 => ("VIP", 0, "#cc3333"),
                8..24 => ("R", 0, "#3366cc"),
                _ => ("S", 0, "#33aa55"),
            };
            serde_json::json!({
                "name": format!("S{i}"),
                "tier": tier,
                "price": price,
                "colour": colour,
                "rows": ROWS,
                "seats_per_row": SEATS_PER_ROW,
                "x": (i % 8) as i32 * 600,
                "y": (i / 8) as i32 * 350,
                "curve_degrees": 0.0,
                "spacing": 10,
            })
        })
        .collect();
    serde_json::json!({
        "kind": "seated",
        "title": "stampede bench (seats)",
        "description": "",
        "currency": "KRW",
        "seated": {
            "generate": {"name": "Stadium", "sections": sections},
            "per_person_limit": PER_PERSON,
            "seats_per_hold_max": PER_PERSON,
            "hold_seconds": HOLD_SECONDS,
        },
    })
}

/// One section as the bench uses it.
#[derive(Debug, Clone)]
pub(super) struct Section {
    pub(super) index: u16,
    pub(super) name: String,
    pub(super) tier: String,
    /// `(first seat, seats)` of each row, front first.
    pub(super) rows: Vec<(u32, u32)>,
}

/// The venue's numbering, from `GET venue`.
#[derive(Debug, Clone)]
pub(super) struct Venue {
    pub(super) numbering: Numbering,
    pub(super) sections: Vec<Section>,
    pub(super) tiers: Vec<String>,
}

impl Venue {
    /// Checks that sections and rows number the seats `0..seats` in order,
    /// without gaps, as the seat map's bitset assumes.
    pub(super) fn from_layout(layout: VenueLayout) -> Result<Venue, String> {
        let mut next = 0u32;
        let mut sections = Vec::with_capacity(layout.sections.len());
        let mut starts = Vec::with_capacity(layout.sections.len());
        let mut tiers: Vec<String> = Vec::new();
        for (i, s) in layout.sections.into_iter().enumerate() {
            if usize::from(s.index) != i || s.first_seat != next {
                return Err(format!(
                    "section {} ({}) starts at seat {}, expected {next}",
                    s.index, s.name, s.first_seat
                ));
            }
            starts.push(next);
            let mut rows = Vec::with_capacity(s.rows.len());
            for r in s.rows {
                if r.first_seat != next {
                    return Err(format!(
                        "a row of section {} starts at seat {}, expected {next}",
                        s.name, r.first_seat
                    ));
                }
                rows.push((r.first_seat, r.len));
                next += r.len;
            }
            if !tiers.contains(&s.tier) {
                tiers.push(s.tier.clone());
            }
            sections.push(Section { index: s.index, name: s.name, tier: s.tier, rows });
        }
        if next != layout.seats || sections.is_empty() {
            return Err(format!("the rows hold {next} seats, the venue says {}", layout.seats));
        }
        Ok(Venue { numbering: Numbering::new(layout.seats, &starts), sections, tiers })
    }

    pub(super) fn seats(&self) -> u32 {
        self.numbering.seats
    }

    /// `(section, row)` of a seat.
    pub(super) fn place(&self, seat: u32) -> Option<(usize, usize)> {
        if seat >= self.seats() {
            return None;
        }
        let s = self.numbering.section_of(seat);
        let rows = &self.sections[s].rows;
        let r = rows.partition_point(|&(first, _)| first <= seat).checked_sub(1)?;
        Some((s, r))
    }
}

/// Where best-available looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Area {
    Any,
    Section(u16),
    SectionName(String),
    Tier(String),
}

/// What a user asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pick {
    Best(Area),
    /// Adjacent seats of one row of `section`.
    Seats {
        section: usize,
        seats: Vec<u32>,
        hot: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UserPlan {
    pub(super) count: u32,
    pub(super) pick: Pick,
    pub(super) confirm: bool,
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_5eed_5eed_5eed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u8) -> bool {
        self.below(100) < u64::from(p)
    }
}

/// What user number `user` does: a pure function of its index.
pub(super) fn plan(user: usize, venue: &Venue, hot_percent: u8, confirm_percent: u8) -> UserPlan {
    let mut r = Rng::new(user as u64);
    let count = 2 + r.below(3) as u32;
    let confirm = r.percent(confirm_percent);
    let n = venue.sections.len() as u64;
    let best = r.below(2) == 0;
    let area = if best {
        match r.below(3) {
            0 => {
                let s = &venue.sections[r.below(n) as usize];
                if r.below(2) == 0 { Area::Section(s.index) } else { Area::SectionName(s.name.clone()) }
            }
            1 => Area::Tier(venue.tiers[r.below(venue.tiers.len() as u64) as usize].clone()),
            _ => Area::Any,
        }
    } else {
        let hot = r.percent(hot_percent);
        let section = if hot { r.below(n.min(HOT_SECTIONS as u64)) } else { r.below(n) } as usize;
        let rows = &venue.sections[section].rows;
        let row = if hot { r.below((rows.len() as u64).min(HOT_ROWS as u64)) } else { r.below(rows.len() as u64) };
        let (first, len) = rows[row as usize];
        if len < count {
            Area::Section(venue.sections[section].index)
        } else {
            // The window the group starts in: the whole row, or its middle.
            let (lo, hi) = if hot {
                let lo = (len / 2).saturating_sub(HOT_WIDTH / 2);
                let hi = (lo + HOT_WIDTH).min(len);
                if hi - lo >= count { (lo, hi) } else { (0, len) }
            } else {
                (0, len)
            };
            let start = lo + r.below(u64::from(hi - lo - count + 1)) as u32;
            let seats = (first + start..first + start + count).collect();
            return UserPlan { count, pick: Pick::Seats { section, seats, hot }, confirm };
        }
    };
    UserPlan { count, pick: Pick::Best(area), confirm }
}

/// The body of `POST seats/holds`.
pub(super) fn hold_body(count: u32, pick: &Pick) -> Bytes {
    let body = match pick {
        Pick::Seats { seats, .. } => serde_json::json!({ "seats": seats }),
        Pick::Best(Area::Any) => serde_json::json!({ "best": { "count": count } }),
        Pick::Best(Area::Section(i)) => serde_json::json!({ "best": { "count": count, "section": i } }),
        Pick::Best(Area::SectionName(s)) => serde_json::json!({ "best": { "count": count, "section": s } }),
        Pick::Best(Area::Tier(t)) => serde_json::json!({ "best": { "count": count, "tier": t } }),
    };
    Bytes::from(body.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(super) mod tests {
    use super::*;
    use crate::scenario::seats::check::check_seats;

    /// The venue the scenario creates, as `GET venue` would number it.
    pub(in crate::scenario::seats) fn venue() -> Venue {
        let spec = sale_spec();
        let mut next = 0u32;
        let sections = spec["seated"]["generate"]["sections"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let first = next;
                let rows: Vec<serde_json::Value> = (0..ROWS)
                    .map(|r| {
                        let row = serde_json::json!({"label": r.to_string(), "first_seat": next,
                            "seats": (0..SEATS_PER_ROW).map(|k| serde_json::json!([k.to_string(), 0, 0])).collect::<Vec<_>>()});
                        next += SEATS_PER_ROW;
                        row
                    })
                    .collect();
                serde_json::json!({"index": i, "name": s["name"], "tier": s["tier"], "price": s["price"],
                    "colour": s["colour"], "first_seat": first, "rows": rows})
            })
            .collect::<Vec<_>>();
        let layout: VenueLayout =
            serde_json::from_value(serde_json::json!({"name": "Stadium", "seats": next, "sections": sections}))
                .unwrap();
        Venue::from_layout(layout).unwrap()
    }

    #[test]
    fn the_venue_has_fifty_thousand_seats() {
        let v = venue();
        assert_eq!(v.seats(), 50_000);
        assert_eq!(v.sections.len(), 40);
        assert_eq!(v.tiers, vec!["VIP", "R", "S"]);
        assert_eq!(v.place(0), Some((0, 0)));
        assert_eq!(v.place(49), Some((0, 0)));
        assert_eq!(v.place(50), Some((0, 1)));
        assert_eq!(v.place(1250), Some((1, 0)));
        assert_eq!(v.place(49_999), Some((39, 24)));
        assert_eq!(v.place(50_000), None);
    }

    #[test]
    fn layouts_with_gaps_are_refused() {
        let layout = |first_row: u32| -> VenueLayout {
            serde_json::from_value(serde_json::json!({"name": "V", "seats": 2, "sections": [
                {"index": 0, "name": "A", "tier": "R", "price": 1, "colour": "#000", "first_seat": 0,
                 "rows": [{"label": "A", "first_seat": first_row, "seats": [["1",0,0],["2",0,0]]}]}]}))
            .unwrap()
        };
        assert!(Venue::from_layout(layout(0)).is_ok());
        assert!(Venue::from_layout(layout(1)).is_err());
    }

    #[test]
    fn plans_are_deterministic_and_mixed() {
        let v = venue();
        let plans: Vec<UserPlan> = (0..20_000).map(|i| plan(i, &v, 30, 50)).collect();
        assert_eq!(plans[123], plan(123, &v, 30, 50));
        let best = plans.iter().filter(|p| matches!(p.pick, Pick::Best(_))).count();
        let hot = plans.iter().filter(|p| matches!(p.pick, Pick::Seats { hot: true, .. })).count();
        let confirm = plans.iter().filter(|p| p.confirm).count();
        assert!((9_000..11_000).contains(&best), "{best}");
        assert!((2_500..3_500).contains(&hot), "{hot}");
        assert!((9_000..11_000).contains(&confirm), "{confirm}");
        for count in 2..=4 {
            assert!(plans.iter().any(|p| p.count == count));
        }
        for p in &plans {
            assert!((2..=4).contains(&p.count));
            if let Pick::Seats { section, seats, hot } = &p.pick {
                // Adjacent seats of one row of the section, and asked for as such.
                assert_eq!(seats.len(), p.count as usize);
                check_seats(&v, p.count, &Pick::Best(Area::Section(*section as u16)), seats).unwrap();
                if *hot {
                    let (s, r) = v.place(seats[0]).unwrap();
                    assert!(s < HOT_SECTIONS && r < HOT_ROWS);
                    let pos = seats[0] - v.sections[s].rows[r].0;
                    assert!((19..=31).contains(&pos), "{pos}");
                }
            }
        }
        let kinds: [fn(&Area) -> bool; 4] = [
            |a| matches!(a, Area::Any),
            |a| matches!(a, Area::Tier(_)),
            |a| matches!(a, Area::Section(_)),
            |a| matches!(a, Area::SectionName(_)),
        ];
        for kind in kinds {
            let found = plans.iter().filter(|p| matches!(&p.pick, Pick::Best(a) if kind(a))).count();
            assert!(found > 1000, "{found}");
        }
        // No hot picks, no confirmations.
        let calm: Vec<UserPlan> = (0..2000).map(|i| plan(i, &v, 0, 0)).collect();
        assert!(calm.iter().all(|p| !p.confirm && !matches!(p.pick, Pick::Seats { hot: true, .. })));
    }

    #[test]
    fn bodies() {
        let b = |pick: Pick| String::from_utf8(hold_body(3, &pick).to_vec()).unwrap();
        assert_eq!(b(Pick::Seats { section: 0, seats: vec![4, 5, 6], hot: false }), r#"{"seats":[4,5,6]}"#);
        assert_eq!(b(Pick::Best(Area::Any)), r#"{"best":{"count":3}}"#);
        assert_eq!(b(Pick::Best(Area::Section(7))), r#"{"best":{"count":3,"section":7}}"#);
        assert_eq!(b(Pick::Best(Area::SectionName("S7".into()))), r#"{"best":{"count":3,"section":"S7"}}"#);
        assert_eq!(b(Pick::Best(Area::Tier("VIP".into()))), r#"{"best":{"count":3,"tier":"VIP"}}"#);
    }
}
