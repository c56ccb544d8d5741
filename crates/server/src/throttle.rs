//! Password guessing and account lookups cost time (issue #9 items 13, 14).
//!
//! Every attempt to check a password (log-in, token exchange) or to learn
//! whether an address has an account (those two, and sign-up's "email taken")
//! must pass three GCRA limiters, kept in memory:
//!
//! - per client address (an IPv4 address, or an IPv6 /64, which one host
//!   usually has whole): [`ADDRESS`];
//! - per account, keyed by the typed e-mail address whether or not an
//!   account has it, so a 429 says nothing about existence: [`ACCOUNT`];
//! - per (account, address) pair: [`PAIR`].
//!
//! An attempt is charged before the slow work starts, so parallel clients
//! cannot overrun a limit, and refunded when it succeeds or was refused for a
//! reason that reveals nothing (a malformed request): only failures cost.
//!
//! **The owner is not locked out.** An attacker who guesses at one account
//! from many addresses exhausts its account limiter, which would also stop
//! the owner. So an (account, address) pair that logged in successfully in
//! the last [`TRUSTED_PAIR_TTL`] skips the account limiter and answers only
//! to its own, gentler pair limiter; an attacker cannot make their own
//! address trusted without the password. Nothing is ever locked for good:
//! each limiter frees one attempt per interval, so a refusal says when to
//! come back (`Retry-After`, at most one interval away).
//!
//! Memory is bounded: each table holds at most [`TABLE_LEN_MAX`] keys. When
//! full, fully recovered keys are dropped first (they hold no information),
//! then the least throttled half, so a flood of fresh addresses can only make
//! the limiter forget the keys that were closest to free anyway. State is
//! lost on restart, which an attacker cannot trigger.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A limiter's rate: `burst` attempts at once, then one per `interval`.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub burst: u32,
    pub interval: Duration,
}

/// One client address: 20 attempts, then one every 3 s (20 a minute) across
/// all accounts, known or not. Guessing or probing addresses costs the same.
pub const ADDRESS: Rate = Rate { burst: 20, interval: Duration::from_secs(3) };
/// One account (or would-be account), from everywhere together: 10
/// attempts, then one every 30 s (120 an hour).
pub const ACCOUNT: Rate = Rate { burst: 10, interval: Duration::from_secs(30) };
/// One account from one address: 10 attempts, then one every 6 s. For a
/// trusted pair it replaces the account limiter.
pub const PAIR: Rate = Rate { burst: 10, interval: Duration::from_secs(6) };
/// How long a successful log-in makes its (account, address) pair trusted.
pub const TRUSTED_PAIR_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The most keys one table (addresses, accounts, pairs, trusted pairs) holds.
pub const TABLE_LEN_MAX: usize = 65_536;

/// How an attempt ended, which decides whether it keeps its cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Right password, or a new account: refunded, and the pair becomes trusted.
    Succeeded,
    /// A wrong password, an unknown account, a taken address: the cost stays.
    Failed,
    /// Refused before anything was looked up (malformed, overloaded): refunded.
    Neutral,
}

/// A charged attempt; hand it back to [`LoginThrottle::finish`].
#[derive(Debug)]
#[must_use = "finish the attempt, or its cost is never refunded"]
pub struct Attempt {
    address: u64,
    account: u64,
    pair: u64,
    /// Whether the account limiter was charged (not for a trusted pair).
    charged_account: bool,
}

/// GCRA state per key: the theoretical arrival time of the next attempt.
struct Table {
    rate: Rate,
    tat: HashMap<u64, Instant>,
}

impl Table {
    fn new(rate: Rate) -> Table {
        Table { rate, tat: HashMap::new() }
    }

    /// How far in the future the TAT may run before attempts are refused.
    fn tolerance(&self) -> Duration {
        self.rate.interval.saturating_mul(self.rate.burst.saturating_sub(1))
    }

    /// `Ok(())` if one more attempt fits now, else how long until it does.
    fn check(&self, key: u64, now: Instant) -> Result<(), Duration> {
        let Some(&tat) = self.tat.get(&key) else { return Ok(()) };
        let allowed_at = tat.checked_sub(self.tolerance()).unwrap_or(now);
        if allowed_at <= now { Ok(()) } else { Err(allowed_at - now) }
    }

    fn charge(&mut self, key: u64, now: Instant) {
        if !self.tat.contains_key(&key) && self.tat.len() >= TABLE_LEN_MAX {
            self.make_room(now);
        }
        let interval = self.rate.interval;
        let tat = self.tat.entry(key).or_insert(now);
        *tat = (*tat).max(now) + interval;
    }

    fn refund(&mut self, key: u64, now: Instant) {
        if let Some(tat) = self.tat.get_mut(&key) {
            *tat = tat.checked_sub(self.rate.interval).unwrap_or(now).max(now);
            if *tat <= now {
                self.tat.remove(&key);
            }
        }
    }

    /// Drops recovered keys; if that frees too little, the least throttled half.
    fn make_room(&mut self, now: Instant) {
        self.tat.retain(|_, tat| *tat > now);
        if self.tat.len() >= TABLE_LEN_MAX - TABLE_LEN_MAX / 8 {
            let mut tats: Vec<Instant> = self.tat.values().copied().collect();
            let mid = tats.len() / 2;
            let (_, median, _) = tats.select_nth_unstable(mid);
            let median = *median;
            self.tat.retain(|_, tat| *tat > median);
        }
    }
}

struct Tables {
    addresses: Table,
    accounts: Table,
    pairs: Table,
    /// Pair key -> when it last logged in successfully.
    trusted: HashMap<u64, Instant>,
}

/// See the module documentation. One per server, in `AppState`.
pub struct LoginThrottle {
    /// Random per process, so nobody can aim keys at one hash bucket or
    /// predict which keys collide.
    hasher: RandomState,
    tables: Mutex<Tables>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::new()
    }
}

impl LoginThrottle {
    pub fn new() -> LoginThrottle {
        LoginThrottle {
            hasher: RandomState::new(),
            tables: Mutex::new(Tables {
                addresses: Table::new(ADDRESS),
                accounts: Table::new(ACCOUNT),
                pairs: Table::new(PAIR),
                trusted: HashMap::new(),
            }),
        }
    }

    fn key(&self, value: impl Hash) -> u64 {
        self.hasher.hash_one(value)
    }

    /// Charges one attempt at `email` from `ip`, or says how long to wait.
    /// The e-mail is compared as the store compares it (NFC, trimmed,
    /// lowercase), so spelling one address several ways buys no attempts.
    pub fn begin(&self, email: &str, ip: IpAddr, now: Instant) -> Result<Attempt, Duration> {
        let address = self.key(("address", address_block(ip)));
        let canonical =
            stampede_core::text::clean_line(email, usize::MAX, false).unwrap_or_else(|_| email.trim().to_owned());
        let account = self.key(("account", canonical.to_lowercase()));
        let pair = self.key(("pair", account, address));
        let mut t = self.tables.lock();
        let trusted = t.trusted.get(&pair).is_some_and(|at| now.saturating_duration_since(*at) < TRUSTED_PAIR_TTL);
        let waits = [
            t.addresses.check(address, now).err(),
            t.pairs.check(pair, now).err(),
            if trusted { None } else { t.accounts.check(account, now).err() },
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(wait);
        }
        t.addresses.charge(address, now);
        t.pairs.charge(pair, now);
        if !trusted {
            t.accounts.charge(account, now);
        }
        Ok(Attempt { address, account, pair, charged_account: !trusted })
    }

    /// Settles an attempt: refunds it unless it failed, and trusts the pair
    /// after a success.
    pub fn finish(&self, attempt: Attempt, ending: Ending, now: Instant) {
        if ending == Ending::Failed {
            return;
        }
        let mut t = self.tables.lock();
        t.addresses.refund(attempt.address, now);
        t.pairs.refund(attempt.pair, now);
        if attempt.charged_account {
            t.accounts.refund(attempt.account, now);
        }
        if ending == Ending::Succeeded {
            if !t.trusted.contains_key(&attempt.pair) && t.trusted.len() >= TABLE_LEN_MAX {
                t.trusted.retain(|_, at| now.saturating_duration_since(*at) < TRUSTED_PAIR_TTL);
                if t.trusted.len() >= TABLE_LEN_MAX - TABLE_LEN_MAX / 8 {
                    // Forget the least recently used half.
                    let mut ats: Vec<Instant> = t.trusted.values().copied().collect();
                    let mid = ats.len() / 2;
                    let median = *ats.select_nth_unstable(mid).1;
                    t.trusted.retain(|_, at| *at > median);
                }
            }
            t.trusted.insert(attempt.pair, now);
        }
    }

    /// How many keys are held in all (for tests of the bound).
    pub fn len(&self) -> usize {
        let t = self.tables.lock();
        t.addresses.tat.len() + t.accounts.tat.len() + t.pairs.tat.len() + t.trusted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The part of an address one client controls: all of an IPv4 address, the
/// /64 of an IPv6 one (an IPv4-mapped IPv6 address counts as IPv4).
fn address_block(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_ipv6_mapped().octets(),
            None => {
                let mut block = v6.octets();
                block[8..].fill(0);
                block
            }
        },
    }
}

/// Whole seconds to send in `Retry-After`, rounded up, at least 1.
pub fn retry_after_s(wait: Duration) -> u32 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    /// Fails `n` attempts; returns how many were let through.
    fn fail(t: &LoginThrottle, email: &str, from: IpAddr, n: u32, now: Instant) -> u32 {
        (0..n)
            .filter(|_| match t.begin(email, from, now) {
                Ok(a) => {
                    t.finish(a, Ending::Failed, now);
                    true
                }
                Err(_) => false,
            })
            .count() as u32
    }

    #[test]
    fn an_address_gets_its_burst_then_waits_one_interval() {
        let t = LoginThrottle::new();
        let now = Instant::now();
        let from = ip("203.0.113.7");
        // Different accounts each time: only the address limiter binds.
        let passed = (0..30)
            .filter(|i| {
                t.begin(&format!("u{i}@example.com"), from, now).is_ok_and(|a| {
                    t.finish(a, Ending::Failed, now);
                    true
                })
            })
            .count();
        assert_eq!(passed, ADDRESS.burst as usize);
        let wait = t.begin("new@example.com", from, now).err();
        assert_eq!(wait, Some(ADDRESS.interval));
        assert_eq!(retry_after_s(ADDRESS.interval), 3);
        assert!(t.begin("new@example.com", from, now + ADDRESS.interval).is_ok());
        // Another address is not affected.
        assert!(t.begin("new@example.com", ip("203.0.113.8"), now).is_ok());
    }

    #[test]
    fn ipv6_counts_per_64() {
        let t = LoginThrottle::new();
        let now = Instant::now();
        for i in 0..ADDRESS.burst {
            let from = ip(&format!("2001:db8:1:2::{i:x}"));
            assert!(t.begin(&format!("u{i}@example.com"), from, now).is_ok());
        }
        assert!(t.begin("z@example.com", ip("2001:db8:1:2:ffff::1"), now).is_err());
        assert!(t.begin("z@example.com", ip("2001:db8:1:3::1"), now).is_ok());
        // IPv4-mapped is the IPv4 address
        assert_eq!(address_block(ip("::ffff:192.0.2.1")), address_block(ip("192.0.2.1")));
    }

    #[test]
    fn an_account_is_limited_from_everywhere_known_or_not() {
        let t = LoginThrottle::new();
        let now = Instant::now();
        // One attempt from each of many addresses: the account limiter binds.
        let passed =
            (0..40u8).filter(|i| fail(&t, "Kim@Example.com ", IpAddr::from([198, 51, 100, *i]), 1, now) == 1).count();
        assert_eq!(passed, ACCOUNT.burst as usize);
        assert_eq!(t.begin("kim@example.com", ip("198.51.100.200"), now).err(), Some(ACCOUNT.interval));
        // Another spelling of the same address is the same account: case, spaces, NFC.
        assert!(t.begin(" KIM@example.COM", ip("198.51.100.201"), now).is_err());
        assert!(t.begin("jos\u{e9}@example.com", ip("198.51.100.202"), now).is_ok_and(|a| {
            t.finish(a, Ending::Failed, now);
            true
        }));
        let nfd_passed = fail(&t, "jose\u{301}@example.com", ip("198.51.100.203"), 20, now);
        assert_eq!(nfd_passed, ACCOUNT.burst - 1, "NFD and NFC spellings share one limiter");
        assert!(t.begin("kim@example.com", ip("198.51.100.200"), now + ACCOUNT.interval).is_ok());
    }

    #[test]
    fn successes_and_neutral_endings_cost_nothing() {
        let t = LoginThrottle::new();
        let now = Instant::now();
        let from = ip("192.0.2.1");
        for _ in 0..200 {
            let a = t.begin("kim@example.com", from, now).map_err(|w| format!("refused, wait {w:?}"));
            assert!(a.is_ok());
            if let Ok(a) = a {
                t.finish(a, Ending::Succeeded, now);
            }
            if let Ok(a) = t.begin("bad@", from, now) {
                t.finish(a, Ending::Neutral, now);
            }
        }
        assert_eq!(fail(&t, "other@example.com", from, 30, now), ACCOUNT.burst);
    }

    #[test]
    fn an_attacker_cannot_lock_the_owner_out() {
        let t = LoginThrottle::new();
        let mut now = Instant::now();
        let home = ip("192.0.2.10");
        // The owner logged in from home once.
        let a = t.begin("kim@example.com", home, now);
        assert!(a.is_ok());
        if let Ok(a) = a {
            t.finish(a, Ending::Succeeded, now);
        }
        // For an hour, a botnet spends every attempt the account limiter allows.
        for minute in 0..60u8 {
            fail(&t, "kim@example.com", IpAddr::from([203, 0, 113, minute]), 12, now);
            assert_eq!(fail(&t, "kim@example.com", ip("198.51.100.1"), 1, now), 0, "a stranger is refused");
            // The owner at home is let in every minute, with a typo on the way.
            assert_eq!(fail(&t, "kim@example.com", home, 1, now), 1, "minute {minute}");
            let a = t.begin("kim@example.com", home, now);
            assert!(a.is_ok(), "minute {minute}: the owner is locked out");
            if let Ok(a) = a {
                t.finish(a, Ending::Succeeded, now);
            }
            now += Duration::from_secs(60);
        }
    }

    #[test]
    fn memory_is_bounded() {
        let t = LoginThrottle::new();
        let now = Instant::now();
        for i in 0..(TABLE_LEN_MAX as u32 + 5_000) {
            let from = IpAddr::from(i.to_be_bytes());
            if let Ok(a) = t.begin("kim@example.com", from, now) {
                t.finish(a, Ending::Failed, now);
            }
            if let Ok(a) = t.begin(&format!("{i}@example.com"), from, now) {
                t.finish(a, Ending::Failed, now);
            }
        }
        assert!(t.len() <= 4 * TABLE_LEN_MAX, "{} keys", t.len());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_s(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_s(Duration::from_millis(2_001)), 3);
        assert_eq!(retry_after_s(Duration::ZERO), 1);
    }
}
