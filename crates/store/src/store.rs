//! [`Store`]: the SQLite-backed account store with its in-memory
//! authentication index.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use stampede_clock::{Clock, SystemClock};
use stampede_core::text::clean_line;

use crate::crypto::{self, Digest32, TOKEN_PREFIX};
use crate::index::{Index, Redacted, SessionEntry};
use crate::validate::{
    BULK_DOMAIN, check_password, check_password_strength, check_prefix, normalize_email, normalize_label,
    normalize_name,
};
use crate::{AuthUser, IssuedToken, NewSession, Role, StoreError, TokenId, TokenInfo, User, UserId, schema};

/// How long a browser session lives: 30 days, in microseconds.
pub const SESSION_TTL_US: i64 = 30 * 24 * 60 * 60 * 1_000_000;
/// Live sessions kept per user; creating one more ends the oldest.
pub const MAX_SESSIONS_PER_USER: usize = 100;
/// Live API tokens allowed per user; creating one more fails with
/// [`StoreError::TooManyTokens`] until one is revoked or expires (expired
/// tokens do not count and are deleted when the user next asks for one).
pub const MAX_TOKENS_PER_USER: usize = 100;
/// The shortest lifetime a token may be given: one minute.
pub const TOKEN_TTL_US_MIN: i64 = 60 * 1_000_000;
/// The longest lifetime a token may be given: 366 days. Without one, a token
/// lives until revoked.
pub const TOKEN_TTL_US_MAX: i64 = 366 * 24 * 60 * 60 * 1_000_000;
/// The most accounts one [`Store::bulk_create`] call makes.
pub const MAX_BULK: u32 = 10_000;

/// Anything longer than this cannot be one of our tokens or cookies; refused
/// before hashing.
const MAX_SECRET_LEN: usize = 128;

/// The account store. Cheap to clone (one `Arc`), `Send + Sync`.
///
/// Every method is synchronous. [`Store::sign_up`] and [`Store::log_in`]
/// run argon2id, which takes tens of milliseconds: call them from
/// `spawn_blocking`. [`Store::bearer`], [`Store::session`] and
/// [`Store::user`] touch only memory and are fast.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The only connection. Writes are rare; argon2 never runs under this lock.
    /// Lock order: `conn`, then `index`.
    pub(crate) conn: Mutex<Connection>,
    pub(crate) index: RwLock<Index>,
    /// What "now" is for expiry and creation times: the engine's clock in a
    /// server, so a test that moves sales' time moves sessions' and tokens' too.
    pub(crate) clock: Arc<dyn Clock>,
    /// argon2id verifications run by log-ins, real or against the dummy hash.
    pub(crate) password_checks: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let index = self.inner.index.read();
        f.debug_struct("Store")
            .field("users", &index.users.len())
            .field("tokens", &index.tokens.len())
            .field("sessions", &index.sessions.len())
            .field("friendships", &index.friend_pairs.len())
            .finish()
    }
}

pub(crate) fn db_id(id: UserId) -> Result<i64, StoreError> {
    i64::try_from(id.0).map_err(|_| StoreError::UnknownUser)
}

pub(crate) fn user_id(id: i64) -> Result<UserId, StoreError> {
    u64::try_from(id).map(UserId).map_err(|_| StoreError::Corrupt(format!("negative user id {id}")))
}

fn parse_role(s: &str) -> Result<Role, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt(format!("unknown role {s:?}")))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl Store {
    /// Opens (or creates) the database file on the system clock; see [`Store::open_with_clock`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_clock(path, Arc::new(SystemClock))
    }

    /// Opens (or creates) the database file: migrates the schema, turns on
    /// WAL, drops sessions expired by `clock` and loads the in-memory index.
    pub fn open_with_clock(path: &Path, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        Store::from_connection(Connection::open(path)?, clock)
    }

    /// A store that lives only in memory (tests, throwaway servers), on the system clock.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::open_in_memory_with_clock(Arc::new(SystemClock))
    }

    /// A store that lives only in memory, reading time from `clock`.
    pub fn open_in_memory_with_clock(clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        Store::from_connection(Connection::open_in_memory()?, clock)
    }

    fn from_connection(mut conn: Connection, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        schema::prepare(&mut conn)?;
        let index = load_index(&conn, clock.now_us())?;
        Ok(Store {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                index: RwLock::new(index),
                clock,
                password_checks: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// Now, by the store's clock (microseconds since the Unix epoch).
    pub fn now_us(&self) -> i64 {
        self.inner.clock.now_us()
    }

    /// Creates an account with a password. The e-mail is trimmed and
    /// lowercased, the name trimmed, both NFC; see [`StoreError`] for the
    /// rules. A password that is easy to guess is refused with the reason
    /// ([`StoreError::WeakPassword`]). Runs argon2id (slow) outside every lock.
    pub fn sign_up(&self, email: &str, password: &str, name: &str, role: Role) -> Result<User, StoreError> {
        let email = normalize_email(email)?;
        check_password(password)?;
        let name = normalize_name(name)?;
        check_password_strength(password, &email, &name)?;
        // Cheap early answer, so a taken address costs no argon2 work; the
        // UNIQUE constraint below settles races.
        if self.email_exists(&email)? {
            return Err(StoreError::EmailTaken);
        }
        let phc = crypto::hash_password(password)?;
        let now = self.now_us();
        let conn = self.inner.conn.lock();
        let inserted = conn.execute(
            "INSERT INTO users (email, name, role, password_hash, created_us)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![email, name, role.as_str(), phc, now],
        );
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        let user = User { id: user_id(conn.last_insert_rowid())?, email, name, role };
        self.inner.index.write().users.insert(user.id, user.clone());
        Ok(user)
    }

    fn email_exists(&self, email: &str) -> Result<bool, StoreError> {
        let conn = self.inner.conn.lock();
        let found = conn.query_row("SELECT 1 FROM users WHERE email = ?1", [email], |_| Ok(())).optional()?;
        Ok(found.is_some())
    }

    /// Checks an e-mail and password. [`StoreError::UnknownAccount`] when no
    /// account has this address, [`StoreError::WrongPassword`] when the
    /// password does not match or the account has none (bulk users).
    /// Runs argon2id (slow) outside every lock, and just as long when there
    /// is no account or no password to check, so the time taken does not
    /// tell whether an address has an account (the server throttles how
    /// often anyone may ask).
    pub fn log_in(&self, email: &str, password: &str) -> Result<User, StoreError> {
        // A password outside the sign-up rules cannot match: every path skips the hashing.
        let plausible = check_password(password).is_ok();
        // The sign-up form of the address (NFC, lowercase), without sign-up's
        // refusal of the bulk domain: bulk accounts exist and get their own answer.
        let Ok(email) = clean_line(email, 254, true).map(|e| e.to_lowercase()) else {
            if plausible {
                self.verify_dummy(password);
            }
            return Err(StoreError::UnknownAccount);
        };
        let row = {
            let conn = self.inner.conn.lock();
            conn.query_row("SELECT id, name, role, password_hash FROM users WHERE email = ?1", [&email], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .optional()?
        };
        let Some((id, name, role, phc)) = row else {
            if plausible {
                self.verify_dummy(password);
            }
            return Err(StoreError::UnknownAccount);
        };
        let Some(phc) = phc else {
            if plausible {
                self.verify_dummy(password);
            }
            return Err(StoreError::WrongPassword);
        };
        if !plausible || !self.verify_password(password, &phc)? {
            return Err(StoreError::WrongPassword);
        }
        Ok(User { id: user_id(id)?, email, name, role: parse_role(&role)? })
    }

    /// argon2id verifications log-ins have run since the store was opened.
    /// A log-in with a plausible password runs exactly one, whether the
    /// account exists, has no password, or the password is wrong: tests
    /// count them to show an unknown address costs what a wrong password does.
    pub fn password_checks(&self) -> u64 {
        self.inner.password_checks.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn verify_dummy(&self, password: &str) {
        self.inner.password_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crypto::verify_dummy(password);
    }

    fn verify_password(&self, password: &str, phc: &str) -> Result<bool, StoreError> {
        self.inner.password_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crypto::verify_password(password, phc)
    }

    /// Starts a browser session for `user`, valid for 30 days from now.
    /// Stores only sha256(cookie). If the user then has more than
    /// [`MAX_SESSIONS_PER_USER`] live sessions, the oldest end; the user's
    /// expired sessions are deleted too.
    pub fn create_session(&self, user: UserId) -> Result<NewSession, StoreError> {
        let now_us = self.now_us();
        let uid = db_id(user)?;
        let cookie_value = crypto::random_secret();
        let csrf_token = crypto::random_secret();
        let hash = crypto::sha256(&cookie_value);
        let expires_us = now_us.saturating_add(SESSION_TTL_US);

        let mut conn = self.inner.conn.lock();
        if !self.inner.index.read().users.contains_key(&user) {
            return Err(StoreError::UnknownUser);
        }
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO sessions (hash, user_id, csrf_token, created_us, expires_us)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash, uid, csrf_token, now_us, expires_us],
        )?;
        const DOOMED: &str = "user_id = ?1 AND (expires_us <= ?2 OR id NOT IN (
                SELECT id FROM sessions WHERE user_id = ?1 AND expires_us > ?2
                ORDER BY id DESC LIMIT ?3))";
        let keep = i64::try_from(MAX_SESSIONS_PER_USER).unwrap_or(i64::MAX);
        let doomed: Vec<Digest32> = tx
            .prepare(&format!("SELECT hash FROM sessions WHERE {DOOMED}"))?
            .query_map(params![uid, now_us, keep], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if !doomed.is_empty() {
            tx.execute(&format!("DELETE FROM sessions WHERE {DOOMED}"), params![uid, now_us, keep])?;
        }
        tx.commit()?;

        let mut index = self.inner.index.write();
        for h in &doomed {
            index.sessions.remove(h);
        }
        index.sessions.insert(hash, SessionEntry { user, csrf_token: Redacted(csrf_token.clone()), expires_us });
        Ok(NewSession { cookie_value, csrf_token })
    }

    /// Ends the session with this cookie value (log out). Unknown or already
    /// ended sessions are not an error.
    pub fn end_session(&self, cookie_value: &str) -> Result<(), StoreError> {
        if cookie_value.len() > MAX_SECRET_LEN {
            return Ok(());
        }
        let hash = crypto::sha256(cookie_value);
        let conn = self.inner.conn.lock();
        conn.execute("DELETE FROM sessions WHERE hash = ?1", [hash])?;
        self.inner.index.write().sessions.remove(&hash);
        Ok(())
    }

    /// Ends every session of `user` (log out everywhere); returns how many.
    pub fn end_all_sessions(&self, user: UserId) -> Result<usize, StoreError> {
        let uid = db_id(user)?;
        let conn = self.inner.conn.lock();
        let n = conn.execute("DELETE FROM sessions WHERE user_id = ?1", [uid])?;
        self.inner.index.write().sessions.retain(|_, s| s.user != user);
        Ok(n)
    }

    /// Deletes every expired session from the database and the index;
    /// returns how many. Call now and then to bound memory.
    pub fn prune_expired_sessions(&self) -> Result<usize, StoreError> {
        let now_us = self.now_us();
        let conn = self.inner.conn.lock();
        let n = conn.execute("DELETE FROM sessions WHERE expires_us <= ?1", [now_us])?;
        self.inner.index.write().sessions.retain(|_, s| s.expires_us > now_us);
        Ok(n)
    }

    /// Who this session cookie belongs to and its CSRF token; `None` if
    /// unknown or expired. Memory only.
    pub fn session(&self, cookie_value: &str) -> Option<(AuthUser, String)> {
        if cookie_value.len() > MAX_SECRET_LEN {
            return None;
        }
        let now_us = self.now_us();
        let hash = crypto::sha256(cookie_value);
        let index = self.inner.index.read();
        let entry = index.sessions.get(&hash)?;
        if entry.expires_us <= now_us {
            return None;
        }
        let user = index.users.get(&entry.user)?;
        Some((user.auth(), entry.csrf_token.0.clone()))
    }

    /// Issues an API bearer token for `user` that lives until revoked; see
    /// [`Store::issue_token`].
    pub fn create_token(&self, user: UserId, label: &str) -> Result<String, StoreError> {
        self.issue_token(user, label, None).map(|t| t.token)
    }

    /// Issues an API bearer token for `user`: `"stp_"` + base64url(32 random
    /// bytes). Only its SHA-256 is stored; the caller must hand the token
    /// over now, it cannot be recovered. The label (a name: trimmed, NFC, at
    /// most 64 characters) may be empty. `ttl_us`, if given, must lie in
    /// [`TOKEN_TTL_US_MIN`]..=[`TOKEN_TTL_US_MAX`]; the token then stops
    /// working on its own. The user's expired tokens are deleted first; if
    /// [`MAX_TOKENS_PER_USER`] are still live, [`StoreError::TooManyTokens`]:
    /// the way out is [`Store::revoke_token_of`] (nothing is replaced
    /// silently, so no script loses its token by surprise).
    pub fn issue_token(&self, user: UserId, label: &str, ttl_us: Option<i64>) -> Result<IssuedToken, StoreError> {
        let now_us = self.now_us();
        let uid = db_id(user)?;
        let label = normalize_label(label)?;
        if ttl_us.is_some_and(|t| !(TOKEN_TTL_US_MIN..=TOKEN_TTL_US_MAX).contains(&t)) {
            return Err(StoreError::InvalidTokenLifetime);
        }
        let expires_us = ttl_us.map(|t| now_us.saturating_add(t));
        let token = crypto::new_token();
        let hash = crypto::sha256(&token);
        let mut conn = self.inner.conn.lock();
        if !self.inner.index.read().users.contains_key(&user) {
            return Err(StoreError::UnknownUser);
        }
        let tx = conn.transaction()?;
        const EXPIRED: &str = "user_id = ?1 AND expires_us IS NOT NULL AND expires_us <= ?2";
        let expired: Vec<Digest32> = tx
            .prepare(&format!("SELECT hash FROM tokens WHERE {EXPIRED}"))?
            .query_map(params![uid, now_us], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if !expired.is_empty() {
            tx.execute(&format!("DELETE FROM tokens WHERE {EXPIRED}"), params![uid, now_us])?;
        }
        let live: i64 = tx.query_row("SELECT COUNT(*) FROM tokens WHERE user_id = ?1", [uid], |r| r.get(0))?;
        if usize::try_from(live).unwrap_or(usize::MAX) >= MAX_TOKENS_PER_USER {
            // Dropping the transaction rolls back the deletion too; the index is untouched.
            return Err(StoreError::TooManyTokens { max: MAX_TOKENS_PER_USER });
        }
        tx.execute(
            "INSERT INTO tokens (hash, user_id, label, created_us, expires_us) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash, uid, label, now_us, expires_us],
        )?;
        let id = TokenId(u64::try_from(tx.last_insert_rowid()).unwrap_or(0));
        tx.commit()?;
        let mut index = self.inner.index.write();
        for h in &expired {
            index.remove_token(h);
        }
        index.add_token(hash, user, expires_us);
        Ok(IssuedToken { id, token, expires_us })
    }

    /// The user's live API tokens (not the tokens themselves), oldest first.
    pub fn tokens_of(&self, user: UserId) -> Result<Vec<TokenInfo>, StoreError> {
        let now_us = self.now_us();
        let uid = db_id(user)?;
        let conn = self.inner.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT id, label, created_us, expires_us FROM tokens
             WHERE user_id = ?1 AND (expires_us IS NULL OR expires_us > ?2) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![uid, now_us], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<i64>>(3)?))
        })?;
        rows.map(|row| {
            let (id, label, created_us, expires_us) = row?;
            let id = TokenId(u64::try_from(id).map_err(|_| StoreError::Corrupt(format!("negative token id {id}")))?);
            Ok(TokenInfo { id, label, created_us, expires_us })
        })
        .collect()
    }

    /// Revokes one of `user`'s API tokens by id; [`StoreError::UnknownToken`]
    /// when the user has no token with that id (someone else's included).
    pub fn revoke_token_of(&self, user: UserId, id: TokenId) -> Result<(), StoreError> {
        let uid = db_id(user)?;
        let tid = i64::try_from(id.0).map_err(|_| StoreError::UnknownToken)?;
        let conn = self.inner.conn.lock();
        let hash: Option<Digest32> = conn
            .query_row("DELETE FROM tokens WHERE id = ?1 AND user_id = ?2 RETURNING hash", params![tid, uid], |r| {
                r.get(0)
            })
            .optional()?;
        let hash = hash.ok_or(StoreError::UnknownToken)?;
        self.inner.index.write().remove_token(&hash);
        Ok(())
    }

    /// Revokes an API token; returns whether it existed.
    pub fn revoke_token(&self, token: &str) -> Result<bool, StoreError> {
        if token.len() > MAX_SECRET_LEN {
            return Ok(false);
        }
        let hash = crypto::sha256(token);
        let conn = self.inner.conn.lock();
        let n = conn.execute("DELETE FROM tokens WHERE hash = ?1", [hash])?;
        self.inner.index.write().remove_token(&hash);
        Ok(n > 0)
    }

    /// Who this API token belongs to, with their current role; `None` if
    /// unknown, revoked or expired. Memory only, O(1).
    pub fn bearer(&self, token: &str) -> Option<AuthUser> {
        if token.len() > MAX_SECRET_LEN || !token.starts_with(TOKEN_PREFIX) {
            return None;
        }
        let now_us = self.now_us();
        let hash = crypto::sha256(token);
        let index = self.inner.index.read();
        let entry = index.tokens.get(&hash)?;
        if entry.expires_us.is_some_and(|e| e <= now_us) {
            return None;
        }
        index.users.get(&entry.user).map(User::auth)
    }

    /// Creates `count` (1..=10,000) password-less participants with one API
    /// token each, in one transaction, for load tests. Emails are
    /// `"{prefix}-{id}@bulk.invalid"` (prefix lowercased), names
    /// `"{prefix} {id}"`. No argon2: these accounts can never log in with a
    /// password and act only through their token.
    pub fn bulk_create(&self, count: u32, name_prefix: &str) -> Result<Vec<(User, String)>, StoreError> {
        if !(1..=MAX_BULK).contains(&count) {
            return Err(StoreError::InvalidCount);
        }
        check_prefix(name_prefix)?;
        let email_prefix = name_prefix.to_ascii_lowercase();
        let n = count as usize;
        let tokens: Vec<(String, Digest32)> = (0..n)
            .map(|_| {
                let t = crypto::new_token();
                let h = crypto::sha256(&t);
                (t, h)
            })
            .collect();
        let now = self.now_us();

        let mut conn = self.inner.conn.lock();
        // IMMEDIATE: take the write lock before reading MAX(id), so the ids
        // chosen below stay free until commit.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let max_id: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM users", [], |r| r.get(0))?;
        let mut out = Vec::with_capacity(n);
        {
            let mut add_user = tx.prepare(
                "INSERT INTO users (id, email, name, role, password_hash, created_us)
                 VALUES (?1, ?2, ?3, 'participant', NULL, ?4)",
            )?;
            let mut add_token =
                tx.prepare("INSERT INTO tokens (hash, user_id, label, created_us) VALUES (?1, ?2, 'bulk', ?3)")?;
            for (i, (token, hash)) in (1_i64..).zip(tokens) {
                let id = max_id.checked_add(i).ok_or_else(|| StoreError::Corrupt("user id overflow".to_owned()))?;
                let email = format!("{email_prefix}-{id}@{BULK_DOMAIN}");
                let name = format!("{name_prefix} {id}");
                add_user.execute(params![id, email, name, now])?;
                add_token.execute(params![hash, id, now])?;
                let user = User { id: user_id(id)?, email, name, role: Role::Participant };
                out.push((user, token, hash));
            }
        }
        tx.commit()?;

        let mut index = self.inner.index.write();
        index.users.reserve(n);
        index.tokens.reserve(n);
        Ok(out
            .into_iter()
            .map(|(user, token, hash)| {
                index.add_token(hash, user.id, None);
                index.users.insert(user.id, user.clone());
                (user, token)
            })
            .collect())
    }

    /// Changes a user's role; takes effect at once for their sessions and tokens.
    pub fn set_role(&self, user: UserId, role: Role) -> Result<User, StoreError> {
        let uid = db_id(user)?;
        let conn = self.inner.conn.lock();
        let n = conn.execute("UPDATE users SET role = ?1 WHERE id = ?2", params![role.as_str(), uid])?;
        if n == 0 {
            return Err(StoreError::UnknownUser);
        }
        let mut index = self.inner.index.write();
        let entry = index.users.get_mut(&user).ok_or(StoreError::UnknownUser)?;
        entry.role = role;
        Ok(entry.clone())
    }

    /// Changes a person's display name (the rules of sign-up apply).
    pub fn set_name(&self, user: UserId, name: &str) -> Result<User, StoreError> {
        let name = normalize_name(name)?;
        let uid = db_id(user)?;
        let conn = self.inner.conn.lock();
        let n = conn.execute("UPDATE users SET name = ?1 WHERE id = ?2", params![name, uid])?;
        if n == 0 {
            return Err(StoreError::UnknownUser);
        }
        let mut index = self.inner.index.write();
        let entry = index.users.get_mut(&user).ok_or(StoreError::UnknownUser)?;
        entry.name = name;
        Ok(entry.clone())
    }

    /// The user with this id, from memory.
    pub fn user(&self, id: UserId) -> Option<User> {
        self.inner.index.read().users.get(&id).cloned()
    }

    /// How many accounts exist.
    pub fn user_count(&self) -> usize {
        self.inner.index.read().users.len()
    }
}

/// Reads users, token digests, live session digests and friendships into a fresh index,
/// deleting expired sessions and tokens on the way.
fn load_index(conn: &Connection, now_us: i64) -> Result<Index, StoreError> {
    conn.execute("DELETE FROM sessions WHERE expires_us <= ?1", [now_us])?;
    let mut index = Index::default();

    let mut stmt = conn.prepare("SELECT id, email, name, role FROM users")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let user = User {
            id: user_id(r.get(0)?)?,
            email: r.get(1)?,
            name: r.get(2)?,
            role: parse_role(&r.get::<_, String>(3)?)?,
        };
        index.users.insert(user.id, user);
    }

    conn.execute("DELETE FROM tokens WHERE expires_us IS NOT NULL AND expires_us <= ?1", [now_us])?;
    let mut stmt = conn.prepare("SELECT hash, user_id, expires_us FROM tokens")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let hash: Digest32 = r.get(0)?;
        index.add_token(hash, user_id(r.get(1)?)?, r.get(2)?);
    }

    let mut stmt = conn.prepare("SELECT hash, user_id, csrf_token, expires_us FROM sessions")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let hash: Digest32 = r.get(0)?;
        index.sessions.insert(
            hash,
            SessionEntry { user: user_id(r.get(1)?)?, csrf_token: Redacted(r.get(2)?), expires_us: r.get(3)? },
        );
    }

    crate::friends::load_pairs(conn, &mut index)?;
    crate::staff::load_staff(conn, &mut index)?;
    Ok(index)
}
