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
pub struct VenueError {
    pub reason: String,
    /// Set when the refusal is two sections that overlap: their names, in venue order.
    pub overlapping: Option<[String; 2]>,
}

impl std::fmt::Display for VenueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for VenueError {}

fn bad<T>(msg: impl Into<String>) -> Result<T, VenueError> {
    Err(VenueError { reason: msg.into(), overlapping: None })
}

/// A section's ground on the map: the bounding box of its seats' centres,
/// grown on every side by its seat gap (the room a seat and its aisle take).
/// The seat map draws each section as its box grown by less than that, so
/// sections whose grounds do not intersect never overlap on the map.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ground {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

impl Ground {
    fn of(section: &Section) -> Option<Ground> {
        let seats = || section.rows.iter().flat_map(|r| &r.seats);
        let (mut min_x, mut min_y, mut max_x, mut max_y) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
        for s in seats() {
            min_x = min_x.min(s.x);
            min_y = min_y.min(s.y);
            max_x = max_x.max(s.x);
            max_y = max_y.max(s.y);
        }
        if min_x > max_x {
            return None;
        }
        let margin = seat_gap(section);
        Some(Ground {
            min_x: f64::from(min_x) - margin,
            min_y: f64::from(min_y) - margin,
            max_x: f64::from(max_x) + margin,
            max_y: f64::from(max_y) + margin,
        })
    }

    /// Touching edges do not count: two sections may share an aisle.
    fn overlaps(&self, o: &Ground) -> bool {
        self.min_x < o.max_x && o.min_x < self.max_x && self.min_y < o.max_y && o.min_y < self.max_y
    }
}

/// The distance between neighbouring seats of a row (the smallest, above
/// zero); for a section of one-seat rows, between the front seats of
/// neighbouring rows; 1 for a single seat.
fn seat_gap(section: &Section) -> f64 {
    let dist = |a: &Seat, b: &Seat| f64::from(a.x - b.x).hypot(f64::from(a.y - b.y));
    let smallest = |it: &mut dyn Iterator<Item = f64>| it.filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min);
    let in_rows = smallest(&mut section.rows.iter().flat_map(|r| r.seats.windows(2).map(|w| dist(&w[0], &w[1]))));
    if in_rows.is_finite() {
        return in_rows;
    }
    let across =
        smallest(&mut section.rows.windows(2).filter_map(|w| Some(dist(w[0].seats.first()?, w[1].seats.first()?))));
    if across.is_finite() { across } else { 1.0 }
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
                    if seat.x.unsigned_abs() > COORD_MAX.unsigned_abs()
                        || seat.y.unsigned_abs() > COORD_MAX.unsigned_abs()
                    {
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

    /// Refuses a venue two of whose sections overlap (see `Ground`), naming
    /// the first such pair. Apart from [`Venue::validate`] because venues
    /// logged before this rule must still replay; every venue an organizer
    /// sends now is checked ([`generate`] does it, and the server for
    /// venues sent whole). Call on a validated venue (at most 200 sections,
    /// so comparing every pair is cheap).
    pub fn check_overlap(&self) -> Result<(), VenueError> {
        let grounds: Vec<Option<Ground>> = self.sections.iter().map(Ground::of).collect();
        for (i, a) in grounds.iter().enumerate() {
            for (j, b) in grounds.iter().enumerate().skip(i + 1) {
                if let (Some(a), Some(b)) = (a, b)
                    && a.overlaps(b)
                {
                    let (first, second) = (&self.sections[i].name, &self.sections[j].name);
                    return Err(VenueError {
                        reason: format!(
                            "sections {first:?} and {second:?} overlap; place them at least one seat gap apart"
                        ),
                        overlapping: Some([first.clone(), second.clone()]),
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks every section's price is within [`crate::PRICE_MAX`]. Apart
    /// from [`Venue::validate`] because sales logged before prices were
    /// bounded must still replay; every new venue is checked by both.
    pub fn check_prices(&self) -> Result<(), VenueError> {
        for s in &self.sections {
            if let Err(e) = crate::Money::price(s.price) {
                return bad(format!("section {:?}: {e}", s.name));
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

/// Builds a venue from blocks, then validates it and refuses overlapping sections
/// and prices over the bound. The counts are checked before a single seat is
/// built: a few bytes of request can describe hundreds of millions of seats.
pub fn generate(name: &str, specs: &[SectionSpec]) -> Result<Venue, VenueError> {
    if specs.is_empty() || specs.len() > VENUE_SECTIONS_MAX {
        return bad(format!("a venue has 1 to {VENUE_SECTIONS_MAX} sections"));
    }
    let mut total = 0u64;
    for spec in specs {
        total = total.saturating_add(u64::from(spec.rows).saturating_mul(u64::from(spec.seats_per_row)));
    }
    if total > VENUE_SEATS_MAX as u64 {
        return bad(format!("a venue has at most {VENUE_SEATS_MAX} seats; these blocks make {total}"));
    }
    if let Some(spec) = specs.iter().find(|s| s.price > crate::PRICE_MAX) {
        return bad(format!("section {:?}: a price must be between 0 and {}", spec.name, crate::PRICE_MAX));
    }
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
    venue.check_overlap()?;
    venue.check_prices()?;
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
    fn a_seat_at_the_edge_of_i32_is_refused_not_a_panic() {
        for (x, y) in [(i32::MIN, 0), (0, i32::MIN), (i32::MAX, 0), (COORD_MAX + 1, 0), (0, -COORD_MAX - 1)] {
            let venue = Venue {
                name: "Hall".into(),
                sections: vec![Section {
                    name: "Floor".into(),
                    tier: "R".into(),
                    price: 100,
                    colour: "#aa0000".into(),
                    rows: vec![Row { label: "A".into(), seats: vec![Seat { label: "1".into(), x, y }] }],
                }],
            };
            assert!(venue.validate().is_err(), "({x}, {y}) accepted");
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
        let specs: Vec<_> = (0..40)
            .map(|i| SectionSpec {
                x: (i % 8) * 600,
                y: (i / 8) * 400,
                ..spec(&format!("S{i}"), 25, 50, if i % 2 == 0 { 60.0 } else { 0.0 })
            })
            .collect();
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

    fn at(s: SectionSpec, x: i32, y: i32) -> SectionSpec {
        SectionSpec { x, y, ..s }
    }

    #[test]
    fn overlapping_sections_are_refused_with_their_names() {
        // The old demo hall: a curved balcony whose ends reach over the floor and both wings.
        let specs = [
            at(spec("Floor", 12, 24, 0.0), 0, 40),
            at(spec("Left wing", 10, 8, 0.0), -220, 60),
            at(spec("Right wing", 10, 8, 0.0), 220, 60),
            at(spec("Balcony", 8, 40, 50.0), 0, 200),
        ];
        let e = generate("Hall", &specs).err().unwrap_or_else(|| panic!("an overlapping venue was accepted"));
        assert_eq!(e.overlapping, Some(["Floor".to_string(), "Balcony".to_string()]), "{e}");
        assert!(e.reason.contains("overlap"), "{e}");
        // Stacked one behind the other, 3 seat gaps apart, as the organizer's builder places them.
        let a = generate("Hall", &[spec("A", 3, 5, 0.0)]).unwrap_or_else(|e| panic!("{e}"));
        assert!(a.check_overlap().is_ok());
        let apart = [spec("A", 3, 5, 0.0), at(spec("B", 2, 5, 0.0), 0, 50)];
        assert!(generate("Hall", &apart).is_ok(), "two seat gaps of aisle between rows 20 and 50");
        let close = [spec("A", 3, 5, 0.0), at(spec("B", 2, 5, 0.0), 0, 30)];
        assert!(generate("Hall", &close).is_err(), "one seat gap is no aisle");
        let beside = [spec("A", 3, 5, 0.0), at(spec("B", 3, 5, 0.0), 70, 0)];
        assert!(generate("Hall", &beside).is_ok(), "side by side with a two-gap aisle");
        let inside = [spec("A", 10, 20, 0.0), at(spec("B", 1, 1, 0.0), 0, 40)];
        assert!(generate("Hall", &inside).is_err(), "a one-seat section inside another");
    }

    #[test]
    fn the_hall_in_docs_api_md_is_accepted() {
        let floor = SectionSpec { tier: "VIP".into(), ..spec("Floor", 20, 30, 0.0) };
        let balcony = at(spec("Balcony", 10, 40, 60.0), 0, 280);
        assert!(generate("Hall", &[floor, balcony]).is_ok());
    }

    #[test]
    fn validate_alone_still_reads_a_venue_that_overlaps() {
        // Logs written before the overlap rule hold such venues; they must replay.
        let mut v = generate("Hall", &[spec("A", 2, 4, 0.0), at(spec("B", 2, 4, 0.0), 0, 100)])
            .unwrap_or_else(|e| panic!("{e}"));
        for row in &mut v.sections[1].rows {
            for seat in &mut row.seats {
                seat.y -= 100;
            }
        }
        assert!(v.validate().is_ok());
        assert!(v.check_overlap().is_err());
    }

    #[test]
    fn seat_totals_are_refused_before_any_seat_is_built() {
        // 32 blocks of 500 × 1,000: sixteen million seats from a few KB of request.
        let huge: Vec<_> = (0..32).map(|i| spec(&format!("S{i}"), 500, 1_000, 0.0)).collect();
        let err = generate("x", &huge).err().map(|e| e.reason).unwrap_or_default();
        assert!(err.contains("these blocks make 16000000"), "refused by the count, not after building: {err}");
        let mut s = spec("S", 2, 2, 0.0);
        s.rows = u32::MAX;
        s.seats_per_row = u32::MAX;
        let err = generate("x", &[s.clone(), s]).err().map(|e| e.reason).unwrap_or_default();
        assert!(err.contains("at most 100000 seats"), "{err}");
    }

    #[test]
    fn prices_are_bounded() {
        let mut s = spec("A", 2, 2, 0.0);
        s.price = u64::MAX;
        assert!(generate("x", std::slice::from_ref(&s)).is_err());
        s.price = crate::PRICE_MAX;
        let mut v = generate("x", std::slice::from_ref(&s)).unwrap_or_else(|e| panic!("{e}"));
        v.sections[0].price = crate::PRICE_MAX + 1;
        assert!(v.validate().is_ok(), "the structure is fine (old logs replay)");
        assert!(v.check_prices().is_err(), "but a new venue is refused");
    }
}
