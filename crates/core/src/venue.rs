//! A venue's seats as a seated sale sees them: sections (each with a price
//! tier and a colour), rows from the front to the back, seats from left to
//! right, each with coordinates for drawing.
//!
//! Seats are numbered by [`SeatId`], their position in that order (section,
//! row, seat), so a seat's state is an index into a flat vector and a whole
//! section is one contiguous range: a 50,000-seat stadium is a few hundred
//! kilobytes of state, and the live map sends one bitset per section.
//! [`generate`] builds rectangular or curved blocks so that an organizer does
//! not type 50,000 seats; [`Venue::validate`] bounds everything an organizer
//! can send.

use serde::{Deserialize, Serialize};

/// A seat, numbered from 0 in venue order (section, row, seat).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeatId(pub u32);

/// Most seats in one venue.
pub const VENUE_SEATS_MAX: usize = 100_000;
/// Most sections in one venue.
pub const VENUE_SECTIONS_MAX: usize = 200;
/// Most rows in one section.
pub const SECTION_ROWS_MAX: usize = 500;
/// Most seats in one row.
pub const ROW_SEATS_MAX: usize = 1_000;
/// Longest name of a venue, section or tier, in bytes.
pub const VENUE_NAME_LEN_MAX: usize = 100;
/// Longest row or seat label, in bytes.
pub const SEAT_LABEL_LEN_MAX: usize = 16;
/// Coordinates stay within ±this, so drawing code never overflows.
pub const COORD_MAX: i32 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Venue {
    pub name: String,
    pub sections: Vec<Section>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub name: String,
    /// Price tier name ("VIP", "R", "S"); sections of one tier share a price.
    pub tier: String,
    /// Price of one seat in the currency's minor unit.
    pub price: u64,
    /// `#rrggbb`, for the map's legend.
    pub colour: String,
    /// Front row first.
    pub rows: Vec<Row>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub label: String,
    /// Left to right as seen from the stage; neighbours in this list are adjacent.
    pub seats: Vec<Seat>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    pub label: String,
    /// Drawing position; y grows away from the stage.
    pub x: i32,
    pub y: i32,
}

/// Where a seat is: section, row within the section, position within the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatPlace {
    pub section: u16,
    pub row: u16,
    pub index: u16,
}

/// Why a venue was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueError(pub String);

impl std::fmt::Display for VenueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VenueError {}

fn bad<T>(msg: impl Into<String>) -> Result<T, VenueError> {
    Err(VenueError(msg.into()))
}

fn check_name(what: &str, name: &str, max: usize) -> Result<(), VenueError> {
    if name.trim().is_empty() || name.len() > max {
        return bad(format!("{what} must be 1 to {max} bytes"));
    }
    crate::text::check_line(name).or_else(|e| bad(format!("{what} {e}")))
}

fn check_colour(colour: &str) -> bool {
    colour.len() == 7 && colour.starts_with('#') && colour[1..].chars().all(|c| c.is_ascii_hexdigit())
}

impl Venue {
    /// Checks every bound an organizer's venue must meet.
    pub fn validate(&self) -> Result<(), VenueError> {
        check_name("venue name", &self.name, VENUE_NAME_LEN_MAX)?;
        if self.sections.is_empty() || self.sections.len() > VENUE_SECTIONS_MAX {
            return bad(format!("a venue has 1 to {VENUE_SECTIONS_MAX} sections"));
        }
        let mut total = 0usize;
        for (i, s) in self.sections.iter().enumerate() {
            check_name("section name", &s.name, VENUE_NAME_LEN_MAX)?;
            check_name("tier", &s.tier, VENUE_NAME_LEN_MAX)?;
            if self.sections[..i].iter().any(|o| o.name == s.name) {
                return bad(format!("section name {:?} is used twice", s.name));
            }
            if !check_colour(&s.colour) {
                return bad(format!("section {:?}: colour must be #rrggbb", s.name));
            }
            if s.rows.is_empty() || s.rows.len() > SECTION_ROWS_MAX {
                return bad(format!("section {:?}: 1 to {SECTION_ROWS_MAX} rows", s.name));
            }
            for r in &s.rows {
                check_name("row label", &r.label, SEAT_LABEL_LEN_MAX)?;
                if r.seats.is_empty() || r.seats.len() > ROW_SEATS_MAX {
                    return bad(format!("section {:?} row {:?}: 1 to {ROW_SEATS_MAX} seats", s.name, r.label));
                }
                for seat in &r.seats {
                    check_name("seat label", &seat.label, SEAT_LABEL_LEN_MAX)?;
                    if seat.x.abs() > COORD_MAX || seat.y.abs() > COORD_MAX {
                        return bad(format!("seat coordinates must be within ±{COORD_MAX}"));
                    }
                }
                total += r.seats.len();
                if total > VENUE_SEATS_MAX {
                    return bad(format!("a venue has at most {VENUE_SEATS_MAX} seats"));
                }
            }
        }
        Ok(())
    }

    pub fn seat_count(&self) -> usize {
        self.sections.iter().flat_map(|s| &s.rows).map(|r| r.seats.len()).sum()
    }
}

/// Seat numbering of a venue: which seats each section and row span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatIndex {
    /// First seat of each section, plus the total at the end.
    section_start: Vec<u32>,
    /// Rows in venue order: (section, row within section, first seat, seats).
    rows: Vec<RowSpan>,
    /// First venue-order row of each section, plus the row count at the end.
    section_row_start: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowSpan {
    pub section: u16,
    pub row: u16,
    pub start: u32,
    pub len: u32,
}

impl SeatIndex {
    /// Numbers a venue's seats. Call on a validated venue (its bounds keep every count in range).
    pub fn new(venue: &Venue) -> Self {
        let mut section_start = Vec::with_capacity(venue.sections.len() + 1);
        let mut section_row_start = Vec::with_capacity(venue.sections.len() + 1);
        let mut rows = Vec::new();
        let mut next = 0u32;
        for (si, s) in venue.sections.iter().enumerate() {
            section_start.push(next);
            section_row_start.push(u32::try_from(rows.len()).unwrap_or(u32::MAX));
            for (ri, r) in s.rows.iter().enumerate() {
                let len = u32::try_from(r.seats.len()).unwrap_or(u32::MAX);
                rows.push(RowSpan {
                    section: u16::try_from(si).unwrap_or(u16::MAX),
                    row: u16::try_from(ri).unwrap_or(u16::MAX),
                    start: next,
                    len,
                });
                next = next.saturating_add(len);
            }
        }
        section_start.push(next);
        section_row_start.push(u32::try_from(rows.len()).unwrap_or(u32::MAX));
        SeatIndex { section_start, rows, section_row_start }
    }

    pub fn seat_count(&self) -> u32 {
        self.section_start.last().copied().unwrap_or(0)
    }

    pub fn section_count(&self) -> usize {
        self.section_start.len().saturating_sub(1)
    }

    /// The seats of section `s`, as a range of seat numbers.
    pub fn section_seats(&self, s: usize) -> std::ops::Range<u32> {
        match (self.section_start.get(s), self.section_start.get(s + 1)) {
            (Some(&a), Some(&b)) => a..b,
            _ => 0..0,
        }
    }

    /// The rows of section `s`, front first.
    pub fn section_rows(&self, s: usize) -> &[RowSpan] {
        match (self.section_row_start.get(s), self.section_row_start.get(s + 1)) {
            (Some(&a), Some(&b)) => self.rows.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The number of the row holding `seat`, counting rows in venue order.
    pub fn row_number(&self, seat: SeatId) -> Option<usize> {
        if seat.0 >= self.seat_count() {
            return None;
        }
        self.rows.partition_point(|r| r.start <= seat.0).checked_sub(1)
    }

    /// The venue-order number of section `s`'s front row.
    pub fn first_row_number(&self, s: usize) -> usize {
        self.section_row_start.get(s).map_or(0, |r| *r as usize)
    }

    /// The row holding `seat`.
    pub fn row_of(&self, seat: SeatId) -> Option<&RowSpan> {
        self.rows.get(self.row_number(seat)?)
    }

    pub fn place(&self, seat: SeatId) -> Option<SeatPlace> {
        let r = self.row_of(seat)?;
        Some(SeatPlace { section: r.section, row: r.row, index: u16::try_from(seat.0 - r.start).ok()? })
    }

    pub fn section_of(&self, seat: SeatId) -> Option<usize> {
        self.row_of(seat).map(|r| usize::from(r.section))
    }
}

/// One block of seats for [`generate`]: `rows` × `seats_per_row`, straight or
/// curved around the stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectionSpec {
    pub name: String,
    pub tier: String,
    pub price: u64,
    pub colour: String,
    pub rows: u32,
    pub seats_per_row: u32,
    /// Where the front row's middle is drawn.
    pub x: i32,
    pub y: i32,
    /// 0 for straight rows; otherwise the arc (degrees, up to 180) each row
    /// spans around a centre in front of the block, so seats face the stage.
    pub curve_degrees: f64,
    /// Distance between neighbouring seats and between rows, in drawing units.
    pub spacing: i32,
}

/// Row labels A, B, ..., Z, AA, AB, ...
pub fn row_label(mut i: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Builds a venue from blocks, then validates it.
pub fn generate(name: &str, specs: &[SectionSpec]) -> Result<Venue, VenueError> {
    let mut sections = Vec::with_capacity(specs.len());
    for spec in specs {
        if spec.rows == 0 || spec.rows as usize > SECTION_ROWS_MAX {
            return bad(format!("section {:?}: 1 to {SECTION_ROWS_MAX} rows", spec.name));
        }
        if spec.seats_per_row == 0 || spec.seats_per_row as usize > ROW_SEATS_MAX {
            return bad(format!("section {:?}: 1 to {ROW_SEATS_MAX} seats per row", spec.name));
        }
        if !(0.0..=180.0).contains(&spec.curve_degrees) || !(1..=1000).contains(&spec.spacing) {
            return bad(format!("section {:?}: curve 0..=180 degrees, spacing 1..=1000", spec.name));
        }
        let rows = (0..spec.rows).map(|r| Row { label: row_label(r), seats: block_row(spec, r) }).collect();
        sections.push(Section {
            name: spec.name.clone(),
            tier: spec.tier.clone(),
            price: spec.price,
            colour: spec.colour.clone(),
            rows,
        });
    }
    let venue = Venue { name: name.to_owned(), sections };
    venue.validate()?;
    Ok(venue)
}

fn block_row(spec: &SectionSpec, r: u32) -> Vec<Seat> {
    let n = spec.seats_per_row;
    let step = f64::from(spec.spacing);
    let depth = f64::from(r) * step;
    let coord = |v: f64| (v.round() as i64).clamp(-i64::from(COORD_MAX), i64::from(COORD_MAX)) as i32;
    (0..n)
        .map(|i| {
            let offset = (f64::from(i) - f64::from(n - 1) / 2.0) * step;
            let (x, y) = if spec.curve_degrees > 0.0 {
                // The front row spans the arc; rows behind sit on larger
                // circles around the same centre, keeping the same seat gap.
                let arc = spec.curve_degrees.to_radians();
                let front_radius = (f64::from(n.max(2) - 1) * step / arc).max(step);
                let radius = front_radius + depth;
                let angle = offset / radius;
                (radius * angle.sin(), radius * angle.cos() - front_radius)
            } else {
                (offset, depth)
            };
            Seat { label: (i + 1).to_string(), x: coord(f64::from(spec.x) + x), y: coord(f64::from(spec.y) + y) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, rows: u32, seats: u32, curve: f64) -> SectionSpec {
        SectionSpec {
            name: name.into(),
            tier: "R".into(),
            price: 100,
            colour: "#aa0000".into(),
            rows,
            seats_per_row: seats,
            x: 0,
            y: 0,
            curve_degrees: curve,
            spacing: 10,
        }
    }

    #[test]
    fn row_labels_go_past_z() {
        assert_eq!(row_label(0), "A");
        assert_eq!(row_label(25), "Z");
        assert_eq!(row_label(26), "AA");
        assert_eq!(row_label(27), "AB");
        assert_eq!(row_label(26 + 26 * 26), "AAA");
    }

    #[test]
    fn a_stadium_of_50000_seats_is_generated_and_numbered() {
        let specs: Vec<_> =
            (0..40).map(|i| spec(&format!("S{i}"), 25, 50, if i % 2 == 0 { 60.0 } else { 0.0 })).collect();
        let v = generate("Stadium", &specs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.seat_count(), 50_000);
        let idx = SeatIndex::new(&v);
        assert_eq!(idx.seat_count(), 50_000);
        assert_eq!(idx.section_seats(1), 1250..2500);
        assert_eq!(idx.place(SeatId(1250 + 51)), Some(SeatPlace { section: 1, row: 1, index: 1 }));
        assert_eq!(idx.place(SeatId(50_000)), None);
        assert_eq!(idx.section_rows(39).len(), 25);
    }

    #[test]
    fn curved_rows_keep_their_order_and_the_gap() {
        let v = generate("Hall", &[spec("A", 3, 9, 90.0)]).unwrap_or_else(|e| panic!("{e}"));
        let front = &v.sections[0].rows[0].seats;
        assert!(front.windows(2).all(|w| w[0].x < w[1].x), "left to right");
        assert_eq!(front[4].x, 0, "the middle seat is on the axis");
        let back = &v.sections[0].rows[2].seats;
        assert!(back[4].y > front[4].y, "rows behind are further from the stage");
        let gap = |a: &Seat, b: &Seat| f64::from(a.x - b.x).hypot(f64::from(a.y - b.y));
        assert!((gap(&front[0], &front[1]) - 10.0).abs() < 1.5);
    }

    #[test]
    fn bounds_are_checked() {
        assert!(generate("x", &[spec("A", 0, 5, 0.0)]).is_err());
        assert!(generate("x", &[spec("A", 5, 5, 200.0)]).is_err());
        assert!(generate("x", &[spec("A", 2, 2, 0.0), spec("A", 2, 2, 0.0)]).is_err(), "duplicate names");
        let mut v = generate("x", &[spec("A", 2, 2, 0.0)]).unwrap_or_else(|e| panic!("{e}"));
        v.sections[0].colour = "red".into();
        assert!(v.validate().is_err());
        let too_many: Vec<_> = (0..3).map(|i| spec(&format!("S{i}"), 500, 100, 0.0)).collect();
        assert!(generate("x", &too_many).is_err(), "150,000 seats is over the bound");
    }
}
