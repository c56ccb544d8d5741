//! A ticket's QR code drawn as SVG, for the ticket page to put inline.
//!
//! The `qrcode` crate makes the module matrix; the drawing is ours, because
//! the crate's SVG renderer writes a whole XML document (declaration and
//! fixed pixel size) and a rectangle per module, and a page wants one small
//! `<svg>` element that scales with the layout. Every dark run of a row is
//! one relative move and one line (`m dx dy h n`) of a single stroked path,
//! in module units, so a version 5 code (37 × 37) is about 3 KB and stays
//! sharp at any size.
//!
//! The text is drawn in alphanumeric mode, never left to the encoder's
//! choice: ticket text is upper-case base32 (`ticket.rs` says why), whose
//! every symbol is in the QR alphanumeric set, and that mode keeps a typical
//! ticket at version 5. Error correction is level M (15 % of the code may be
//! unreadable: a crease, a glare on a phone screen). The quiet zone, four
//! light modules around the code that scanners need to find its edges, is
//! part of the drawing, so no page style can crop it.

use qrcode::bits::Bits;
use qrcode::{EcLevel, QrCode, Version};

/// Light modules around the code on every side: the QR standard's minimum.
pub const QUIET_ZONE_MODULES: usize = 4;

/// The largest QR code version (177 × 177 modules).
const VERSION_MAX: i16 = 40;

/// Why a text cannot be drawn.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("the text has a symbol outside the QR alphanumeric set (0-9, A-Z, space, $%*+-./:)")]
    NotAlphanumeric,
    #[error("the text does not fit the largest QR code")]
    TooLong,
}

/// The module matrix of `text` in alphanumeric mode at level M, in the
/// smallest version that holds it.
fn matrix(text: &str) -> Result<QrCode, QrError> {
    if !text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b" $%*+-./:".contains(&b)) {
        return Err(QrError::NotAlphanumeric);
    }
    for v in 1..=VERSION_MAX {
        let mut bits = Bits::new(Version::Normal(v));
        // A version too small for the text fails here or at the terminator;
        // the next one is tried.
        if bits.push_alphanumeric_data(text.as_bytes()).is_err() || bits.push_terminator(EcLevel::M).is_err() {
            continue;
        }
        return QrCode::with_bits(bits, EcLevel::M).map_err(|_| QrError::TooLong);
    }
    Err(QrError::TooLong)
}

/// `text` as an inline `<svg>` element: a square `viewBox` in modules
/// (quiet zone included) filled light, with one dark path on top. `label`
/// is its accessible name (escaped here). The element has no size of its
/// own; the page's style gives it one.
pub fn qr_svg(text: &str, label: &str) -> Result<String, QrError> {
    let code = matrix(text)?;
    let width = code.width();
    let side = width + 2 * QUIET_ZONE_MODULES;
    let colors = code.to_colors();
    // The pen walks the rows' middle lines: each dark run is a relative
    // move to its start and a horizontal line as long as the run, stroked
    // one module wide with flat ends, so the run is exactly its modules.
    let mut path = String::from("M0 .5");
    let (mut pen_x, mut pen_y) = (0i64, 0i64);
    for y in 0..width {
        let row = &colors[y * width..(y + 1) * width];
        let mut x = 0;
        while x < width {
            if row[x] != qrcode::Color::Dark {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] == qrcode::Color::Dark {
                x += 1;
            }
            let (sx, sy) = ((start + QUIET_ZONE_MODULES) as i64, (y + QUIET_ZONE_MODULES) as i64);
            path.push_str(&format!("m{} {}h{}", sx - pen_x, sy - pen_y, x - start));
            (pen_x, pen_y) = (sx + (x - start) as i64, sy);
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 {side} {side}\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"{label}\">\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path stroke=\"#000\" stroke-width=\"1\" stroke-linecap=\"butt\" d=\"{path}\"/></svg>",
        label = escape_attribute(label),
    ))
}

fn escape_attribute(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use stampede_core::{SeatId, SignedTicket, TicketId, TicketPayload, TicketPlace, UserId};

    /// Reads our own drawing back into a bitmap: the viewBox side, and the
    /// path as `M0 .5` then `m dx dy h n` steps, each a dark run of `n`
    /// modules from the pen's new place. Anything else in the path fails.
    fn raster(svg: &str) -> (usize, Vec<bool>) {
        let side: usize = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("a square viewBox");
        let d = svg.split(" d=\"").nth(1).and_then(|r| r.split('"').next()).expect("a path");
        let steps = d.strip_prefix("M0 .5").expect("the pen starts on the first row's middle line");
        let mut dark = vec![false; side * side];
        let (mut x, mut y) = (0i64, 0i64);
        for step in steps.split('m').skip(1) {
            let (mv, run) = step.split_once('h').expect("a move, then a line");
            let (dx, dy) = mv.split_once(' ').expect("dx dy");
            x += dx.parse::<i64>().expect("dx");
            y += dy.parse::<i64>().expect("dy");
            let n: i64 = run.parse().expect("a run length");
            assert!(
                n > 0 && x >= 0 && y >= 0 && x + n <= side as i64 && y < side as i64,
                "a run inside the code: {step}"
            );
            for i in x..x + n {
                dark[y as usize * side + i as usize] = true;
            }
            x += n;
        }
        (side, dark)
    }

    /// Decodes the drawing with `rqrr`, a decoder written apart from the
    /// encoder, at 4 pixels a module.
    fn decode(svg: &str) -> (rqrr::MetaData, String) {
        const PX: usize = 4;
        let (side, dark) = raster(svg);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(side * PX, side * PX, |x, y| {
            if dark[(y / PX) * side + x / PX] { 0 } else { 255 }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one code in the drawing");
        grids[0].decode().expect("the drawing decodes")
    }

    fn ticket_text() -> String {
        let payload = TicketPayload {
            sale: 42,
            ticket: TicketId(1_234),
            place: TicketPlace::Seat(SeatId(517)),
            holder: UserId(90_001),
            generation: 2,
        };
        SignedTicket::sign(payload, &SigningKey::from_bytes(&[7; 32])).to_qr_text()
    }

    #[test]
    fn a_ticket_draws_as_a_version_5_code_that_reads_back() {
        let text = ticket_text();
        let svg = qr_svg(&text, "Seat A-12 <ticket>").expect("draws");
        let (meta, read) = decode(&svg);
        assert_eq!(read, text);
        // Alphanumeric mode keeps the 120-symbol ticket at version 5
        // (byte mode would need version 7) and the level is M (format bits 00).
        assert_eq!(meta.version.0, 5);
        assert_eq!(meta.ecc_level, 0);
        let (side, dark) = raster(&svg);
        assert_eq!(side, 37 + 2 * QUIET_ZONE_MODULES);
        // The quiet zone is light all round.
        for i in 0..side {
            for q in 0..QUIET_ZONE_MODULES {
                for (x, y) in [(i, q), (q, i), (i, side - 1 - q), (side - 1 - q, i)] {
                    assert!(!dark[y * side + x], "module ({x}, {y}) of the quiet zone is dark");
                }
            }
        }
        assert!(svg.contains("aria-label=\"Seat A-12 &lt;ticket&gt;\""), "the label is escaped");
        assert!(svg.len() < 4_000, "{} bytes", svg.len());
    }

    #[test]
    fn a_changed_symbol_draws_a_different_code() {
        let text = ticket_text();
        let mut other = text.clone().into_bytes();
        other[60] = if other[60] == b'A' { b'B' } else { b'A' };
        let other = String::from_utf8(other).expect("ascii");
        assert_ne!(qr_svg(&text, "t"), qr_svg(&other, "t"));
        assert_eq!(decode(&qr_svg(&other, "t").expect("draws")).1, other);
    }

    #[test]
    fn text_outside_the_alphanumeric_set_or_too_long_is_refused() {
        assert_eq!(qr_svg("lower", "t"), Err(QrError::NotAlphanumeric));
        assert_eq!(qr_svg("A\"B", "t"), Err(QrError::NotAlphanumeric));
        // Version 40-M holds 3,391 alphanumeric symbols.
        assert_eq!(qr_svg(&"A".repeat(3_392), "t"), Err(QrError::TooLong));
        assert!(qr_svg(&"A".repeat(3_391), "t").is_ok());
    }
}
