//! Order references: the short code a buyer reads over the phone, unique
//! across the whole platform.
//!
//! Hold and order ids restart at 1 in every sale, so they cannot name an order
//! on their own. A reference encodes the pair (sale id, order number) itself,
//! so it is unique by construction (not by luck) and the same on every replay
//! of the log: `K7M-4QX2` is the sale part, a dash, the order part and one
//! check character.
//!
//! - The alphabet has 32 symbols without `0`, `O`, `1` and `I`, which are
//!   misheard and misread.
//! - Each part is at least 3 symbols and grows only when the number needs it;
//!   within one width the number is scrambled by a bijection, so consecutive
//!   orders and the same order number in two sales look unrelated, while two
//!   different numbers still never share a code.
//! - The check character is a weighted sum with odd, distinct weights modulo
//!   32: it catches every single misread symbol and most swaps of two.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The 32 symbols, in value order: digits 2-9, then A-Z without I and O.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Fewest symbols in each part, so every reference has the same look until
/// a sale has more than 32,768 orders (or the platform that many sales).
const PART_LEN_MIN: usize = 3;
/// Most symbols in one part: 13 × 5 bits hold any u64.
const PART_LEN_MAX: usize = 13;
/// Odd multipliers (invertible modulo any power of two) for the scrambling.
const MIX_A: u64 = 0x9E37_79B9_7F4A_7C15;
const MIX_B: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// A platform-wide order reference: a sale id and an order number in that
/// sale (a hold id for stock and seats, a rank for a drop's winner).
/// Serialized as the two numbers (for snapshots and records); people see
/// [`fmt::Display`]'s code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrderRef {
    pub sale: u64,
    pub order: u64,
}

fn symbol_value(c: u8) -> Option<u64> {
    let c = c.to_ascii_uppercase();
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u64)
}

/// Symbols needed for `n` in base 32, at least [`PART_LEN_MIN`].
fn width_of(n: u64) -> usize {
    let bits = 64 - n.leading_zeros() as usize;
    bits.div_ceil(5).max(PART_LEN_MIN)
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

/// A bijection of `[0, 2^bits)`: multiply by an odd number, xor-shift the
/// high half down, multiply again. `salt` shifts the start so the same order
/// number in two sales maps to different codes.
fn scramble(n: u64, bits: u32, salt: u64) -> u64 {
    let m = mask(bits);
    let shift = bits.div_ceil(2);
    let mut x = n.wrapping_add(salt) & m;
    x = x.wrapping_mul(MIX_A) & m;
    x ^= x >> shift;
    x.wrapping_mul(MIX_B) & m
}

/// The inverse of [`scramble`] for the same `bits` and `salt`.
fn unscramble(x: u64, bits: u32, salt: u64) -> u64 {
    let m = mask(bits);
    let shift = bits.div_ceil(2);
    let mut y = x.wrapping_mul(inverse_odd(MIX_B)) & m;
    // Shifting by at least half the width: xor-shift is its own inverse.
    y ^= y >> shift;
    y = y.wrapping_mul(inverse_odd(MIX_A)) & m;
    y.wrapping_sub(salt) & m
}

/// The multiplicative inverse of an odd number modulo 2^64 (Newton's method).
const fn inverse_odd(a: u64) -> u64 {
    let mut x = a;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

fn push_part(out: &mut Vec<u64>, n: u64, salt: u64) {
    let width = width_of(n);
    let bits = (width * 5).min(64) as u32;
    let x = scramble(n, bits, salt);
    for i in (0..width).rev() {
        out.push((x >> (5 * i)) & 31);
    }
}

fn read_part(digits: &[u64], salt: u64) -> Option<u64> {
    if !(PART_LEN_MIN..=PART_LEN_MAX).contains(&digits.len()) {
        return None;
    }
    let bits = (digits.len() * 5).min(64) as u32;
    let mut x: u64 = 0;
    for &d in digits {
        x = x.checked_mul(32)?.checked_add(d)?;
    }
    if x > mask(bits) {
        return None;
    }
    let n = unscramble(x, bits, salt);
    // Only the canonical width parses, so one order has exactly one reference.
    (width_of(n) == digits.len()).then_some(n)
}

fn check_symbol(values: &[u64]) -> u64 {
    values.iter().enumerate().fold(0u64, |sum, (i, v)| (sum + (2 * i as u64 + 1) * v) % 32)
}

impl OrderRef {
    pub fn new(sale: u64, order: u64) -> Self {
        OrderRef { sale, order }
    }

    /// Reads a reference, ignoring case; `None` when it is malformed or its
    /// check character does not match. The dash is needed: it marks where the
    /// sale part ends.
    pub fn parse(text: &str) -> Option<OrderRef> {
        let text = text.trim();
        let (sale_part, rest) = text.split_once('-')?;
        if rest.len() < PART_LEN_MIN + 1 {
            return None;
        }
        let sale_digits: Vec<u64> = sale_part.bytes().map(symbol_value).collect::<Option<_>>()?;
        let rest_digits: Vec<u64> = rest.bytes().map(symbol_value).collect::<Option<_>>()?;
        let (order_digits, check) = rest_digits.split_at(rest_digits.len() - 1);
        let sale = read_part(&sale_digits, 0)?;
        let order = read_part(order_digits, sale.wrapping_mul(MIX_B))?;
        let mut all = sale_digits.clone();
        all.extend_from_slice(order_digits);
        (check_symbol(&all) == check[0]).then_some(OrderRef { sale, order })
    }
}

impl fmt::Display for OrderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sale = Vec::with_capacity(PART_LEN_MIN);
        push_part(&mut sale, self.sale, 0);
        let mut order = Vec::with_capacity(PART_LEN_MIN + 1);
        push_part(&mut order, self.order, self.sale.wrapping_mul(MIX_B));
        let mut all = sale.clone();
        all.extend_from_slice(&order);
        order.push(check_symbol(&all));
        let text = |part: &[u64]| part.iter().map(|&v| char::from(ALPHABET[v as usize])).collect::<String>();
        write!(f, "{}-{}", text(&sale), text(&order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_like_the_example_and_round_trips() {
        let r = OrderRef::new(1, 1).to_string();
        assert_eq!(r.len(), 8, "{r}");
        assert_eq!(&r[3..4], "-");
        assert!(!r.contains(['0', 'O', '1', 'I']), "{r}");
        assert_eq!(OrderRef::parse(&r), Some(OrderRef::new(1, 1)));
        assert_eq!(OrderRef::parse(&r.to_lowercase()), Some(OrderRef::new(1, 1)));
    }

    #[test]
    fn order_one_of_two_sales_differs_entirely() {
        let a = OrderRef::new(1, 1).to_string();
        let b = OrderRef::new(2, 1).to_string();
        assert_ne!(a[4..7], b[4..7], "{a} {b}");
    }

    #[test]
    fn large_numbers_grow_the_parts() {
        for r in [OrderRef::new(u64::MAX, u64::MAX), OrderRef::new(32_768, 32_767), OrderRef::new(0, 0)] {
            let text = r.to_string();
            assert_eq!(OrderRef::parse(&text), Some(r), "{text}");
        }
    }

    #[test]
    fn inverse_is_an_inverse() {
        assert_eq!(MIX_A.wrapping_mul(inverse_odd(MIX_A)), 1);
        assert_eq!(MIX_B.wrapping_mul(inverse_odd(MIX_B)), 1);
    }
}
