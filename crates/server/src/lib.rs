//! Stampede's HTTP face: the JSON API over axum, authentication, limits,
//! problem answers and the OpenAPI document.
//!
//! This crate owns the edge: it turns requests into engine commands and
//! store calls and their results into JSON. It decides nothing about sales
//! itself. [`App::from_parts`] starts an engine and the edge on the command
//! log, account store and clock the binary chose ([`AppParts`]);
//! [`App::open`] does so on the SQLite files of a data directory. [`serve`]
//! runs the router on any listener until shutdown, so tests start the real
//! server on port 0.

pub mod compression;
pub mod edge;
pub mod extract;
pub mod listener;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod pass;
pub mod problem;
pub mod projections;
pub mod request_id;
pub mod routes;
pub mod seatmap;
pub mod throttle;
pub mod web;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use stampede_engine::{Clock, Engine, EngineConfig, StartReport, SystemClock};
use stampede_log::{CommandLog, SqliteLog};
use stampede_store::Store;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use crate::edge::EdgeLimits;
use crate::live::{LiveHub, WsGauge};
use crate::pass::PassKeys;
use crate::problem::ApiError;
use crate::routes::common::seated::VENUE_BODY_LEN_MAX;
use crate::routes::live as live_routes;
use crate::routes::log as log_routes;
use crate::routes::{accounts, friends, queue, sales, seats, system, tickets, venues, wallet};

/// Largest request body accepted, in bytes.
pub const BODY_LEN_MAX: usize = 16 * 1024;
/// Password hashes computed at once; argon2 is deliberately slow and must not
/// take every core during a log-in rush.
pub const HASHING_CONCURRENCY_MAX: usize = 2;
/// Longest wait for a hashing slot before answering 503.
pub const HASHING_WAIT_MAX: Duration = Duration::from_secs(5);
/// How often expired sessions are dropped from the store and its memory index.
pub const SESSION_PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// A connection that neither reads nor writes for this long is closed.
pub const CONNECTION_IDLE_MAX: Duration = Duration::from_secs(60);
/// Default bound on open connections when the open-file limit is unknown.
pub const CONNECTIONS_MAX_DEFAULT: usize = 16_000;

/// Descriptors kept for the server's own files (the log, its WAL and
/// snapshots, the stores, the read models, log readers and downloads,
/// listeners, the runtime's own) when the connection cap follows the
/// open-file limit.
pub const OPEN_FILES_RESERVED: u64 = 256;

/// The connection cap an open-file limit allows: the limit less the server's
/// own files, and never less than a few connections.
pub fn connections_max_for_open_files(open_files: u64) -> usize {
    usize::try_from(open_files.saturating_sub(OPEN_FILES_RESERVED).max(16)).unwrap_or(usize::MAX)
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub store: Store,
    /// sha256 of `STAMPEDE_ADMIN_TOKEN`, when the operator set one.
    pub admin_token_hash: Option<[u8; 32]>,
    hashing: Arc<Semaphore>,
    pub passes: Arc<PassKeys>,
    pub live: Arc<LiveHub>,
    pub websockets: Arc<WsGauge>,
    pub seatmaps: Arc<seatmap::SeatMapHub>,
    /// Session cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Limits password checks and account lookups per address and account.
    pub logins: Arc<throttle::LoginThrottle>,
    /// The read models (my holds, orders and seats, results, statistics);
    /// `App::open` starts them.
    pub views: Option<Arc<stampede_views::Projector>>,
    /// Readers of the log for public downloads ([`AppParts::log_readers`]).
    pub log_readers: Option<LogReaders>,
    /// Downloads of public logs running now, at most [`LOG_DOWNLOADS_MAX`].
    pub log_downloads: Arc<Semaphore>,
    /// The process's Prometheus recorder, rendered by `GET /metrics`; `None`
    /// with `--metrics off` (no recorder, no latency layer, `/metrics` 404).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// True once the payments a crash left half-way are settled
    /// (`routes::common::pay::resume`, started by [`serve`]); until then
    /// wallet reads and payments wait for it, and nothing else does.
    pub payments_settled: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Public-log downloads streamed at once; more answer 503 with Retry-After.
/// Each holds a log connection and a thread reading it.
pub const LOG_DOWNLOADS_MAX: usize = 4;

impl AppState {
    pub fn new(engine: Engine, store: Store, admin_token: Option<&str>, passes: PassKeys) -> Self {
        AppState {
            engine,
            store,
            admin_token_hash: admin_token.filter(|t| !t.is_empty()).map(extract::admin_token_hash),
            hashing: Arc::new(Semaphore::new(HASHING_CONCURRENCY_MAX)),
            passes: Arc::new(passes),
            live: Arc::new(LiveHub::default()),
            websockets: Arc::new(WsGauge::default()),
            seatmaps: Arc::new(seatmap::SeatMapHub::default()),
            log_readers: None,
            log_downloads: Arc::new(Semaphore::new(LOG_DOWNLOADS_MAX)),
            secure_cookies: false,
            logins: Arc::new(throttle::LoginThrottle::new()),
            views: None,
            metrics: None,
            payments_settled: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }
}

/// Runs password hashing off the async threads, a bounded number at a time.
pub async fn blocking_hash_work<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let permit = tokio::time::timeout(HASHING_WAIT_MAX, state.hashing.clone().acquire_owned())
        .await
        .map_err(|_| ApiError::overloaded("too many sign-ins at once; retry shortly"))?
        .map_err(|e| ApiError::internal(&e))?;
    let out = tokio::task::spawn_blocking(move || {
        let out = f();
        drop(permit);
        out
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    Ok(out)
}

/// Where the server keeps its data and how it behaves.
#[derive(Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub admin_token: Option<String>,
    pub connections_max: usize,
    pub engine: EngineConfig,
    /// The address people reach the server at (e.g. behind a TLS proxy).
    /// When it is https the session cookie is `Secure`.
    pub public_url: Option<String>,
    /// Record and serve Prometheus metrics (`--metrics on`, the default).
    pub metrics: bool,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "[redacted]"))
            .field("connections_max", &self.connections_max)
            .field("engine", &self.engine)
            .field("public_url", &self.public_url)
            .field("metrics", &self.metrics)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("cannot open the account store: {0}")]
    Store(#[from] stampede_store::StoreError),
    #[error("cannot open the command log: {0}")]
    Log(#[from] stampede_log::LogError),
    #[error("cannot start the engine: {0}")]
    Engine(#[from] stampede_engine::StartError),
    #[error(transparent)]
    PassKey(#[from] pass::PassKeyError),
    #[error("cannot start the log audit thread: {0}")]
    Audit(std::io::Error),
    #[error("cannot open the read models: {0}")]
    Views(#[from] stampede_views::ViewsError),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}

/// What an [`App`] runs on, chosen by the binary: the backend of the command
/// log (SQLite today; JetStream next), the account store, and the one clock
/// that the engine and the store share, so that time moved by a test (or a
/// simulator) moves sales, sessions and tokens alike.
pub struct AppParts {
    /// The log the engine recovers from and then writes to (it also hands
    /// out the log's snapshot writer, [`CommandLog::snapshot_store`]).
    pub log: Box<dyn CommandLog>,
    /// A second handle on the same log for the background audit, which
    /// replays everything from the start while the server already serves;
    /// `None` skips the audit (nothing but `/readyz`'s audit part depends on it).
    pub audit_reader: Option<Box<dyn CommandLog>>,
    /// The account store, opened on [`AppParts::clock`].
    pub store: Store,
    /// Where "now" comes from for the engine and the store.
    pub clock: Arc<dyn Clock>,
    /// The key that signs waiting-room passes.
    pub passes: PassKeys,
    /// Where the read models live and a reader of the log to fill them from;
    /// `None` runs without them (my page and results then answer 503).
    pub views: Option<ViewsParts>,
    /// Opens a reading connection to the log, one per download of a public
    /// log (streamed from it); `None`: downloads answer 503.
    pub log_readers: Option<LogReaders>,
}

/// Opens a new reader of the command log.
pub type LogReaders = Arc<dyn Fn() -> Result<Box<dyn CommandLog>, stampede_log::LogError> + Send + Sync>;

/// The read models' file and the log reader their projector catches up from.
pub struct ViewsParts {
    pub path: PathBuf,
    pub log_reader: Box<dyn CommandLog>,
}

impl AppParts {
    /// The SQLite files of a data directory: `log.sqlite` (and its snapshots
    /// file), `store.sqlite` and the pass key, each created if missing.
    pub fn sqlite(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<AppParts, OpenError> {
        std::fs::create_dir_all(data_dir).map_err(|e| OpenError::DataDir(data_dir.to_path_buf(), e))?;
        let store = Store::open_with_clock(&data_dir.join("store.sqlite"), clock.clone())?;
        let passes = PassKeys::load_or_create(data_dir)?;
        let log_path = data_dir.join("log.sqlite");
        let log = Box::new(SqliteLog::open(&log_path)?);
        let audit_reader = Some(Box::new(SqliteLog::open(&log_path)?) as Box<dyn CommandLog>);
        let views = Some(ViewsParts {
            path: stampede_views::views_path(data_dir),
            log_reader: Box::new(SqliteLog::open(&log_path)?),
        });
        let readers_path = log_path.clone();
        let log_readers: LogReaders =
            Arc::new(move || Ok(Box::new(SqliteLog::open(&readers_path)?) as Box<dyn CommandLog>));
        Ok(AppParts { log, audit_reader, store, clock, passes, views, log_readers: Some(log_readers) })
    }
}

/// A ready application: store opened, log replayed, engine running.
pub struct App {
    pub state: AppState,
    pub report: StartReport,
}

impl App {
    /// Opens (or creates) the SQLite data directory `config.data_dir`
    /// ([`AppParts::sqlite`]) on the system clock and starts on it.
    pub fn open(config: &ServerConfig) -> Result<App, OpenError> {
        Self::open_with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`App::open`] with the engine and the store reading time from
    /// `clock` (tests move time forward instead of waiting for it).
    pub fn open_with_clock(config: &ServerConfig, clock: Arc<dyn Clock>) -> Result<App, OpenError> {
        Self::from_parts(config, AppParts::sqlite(&config.data_dir, clock)?)
    }

    /// Replays the log (blocking), starts the engine on it and audits the
    /// log in the background. Needs a tokio runtime for the sale tasks.
    /// `config.data_dir` is not used: the parts are already open.
    pub fn from_parts(config: &ServerConfig, parts: AppParts) -> Result<App, OpenError> {
        let AppParts { log, audit_reader, store, clock, passes, views, log_readers } = parts;
        // Before the engine starts: its replay and its tasks record into it.
        let metrics = if config.metrics { Some(crate::metrics::install()?) } else { None };
        let mut engine_config = config.engine.clone();
        // Every sale this server creates seals its people, so its log can be published.
        engine_config.persons.get_or_insert_with(|| passes.person_key().clone());
        let (engine, report) = Engine::start(log, clock, engine_config)?;
        // Subscribed before any command can arrive; what it missed while the
        // engine replayed, it catches up from its own reader of the log.
        let views = match views {
            Some(ViewsParts { path, log_reader }) => {
                Some(stampede_views::Projector::start(engine.subscribe(), &path, log_reader)?)
            }
            None => None,
        };
        // Start-up replayed only from each sale's newest snapshot; the rest of
        // the log is audited while the server already serves (/readyz turns 503 if it fails).
        if let Some(reader) = audit_reader {
            engine.audit_log_in_background(reader).map_err(OpenError::Audit)?;
        }
        let mut state = AppState::new(engine, store, config.admin_token.as_deref(), passes);
        state.secure_cookies = config.public_url.as_deref().is_some_and(is_https);
        state.views = views;
        state.log_readers = log_readers;
        state.metrics = metrics;
        Ok(App { state, report })
    }
}

/// Whether a public URL is served over TLS (scheme compared case-insensitively).
pub fn is_https(url: &str) -> bool {
    url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// Every route of the API. The edge ([`edge::EdgeLayer`]: body limits and
/// clock, security headers) and the request ids are not part of it;
/// [`serve_with_limits`] puts them around the whole router, once. With
/// metrics on, each route is timed ([`crate::metrics::RequestMetricsLayer`]).
pub fn router(state: AppState) -> Router {
    let timed = state.metrics.is_some();
    let routes = Router::new()
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .route("/api/ping", get(system::ping))
        .route("/api/openapi.json", get(openapi::openapi))
        .route("/api/auth/signup", post(accounts::signup))
        .route("/api/auth/login", post(accounts::login))
        .route("/api/auth/logout", post(accounts::logout))
        .route("/api/auth/tokens", post(accounts::create_token).get(accounts::list_tokens))
        .route("/api/auth/tokens/{id}", delete(accounts::revoke_token))
        .route("/api/me", get(accounts::me).put(accounts::update_me))
        .route("/api/me/holds", get(sales::my_holds))
        .route("/api/me/orders", get(sales::my_orders))
        .route("/api/me/wallet", get(wallet::my_wallet))
        .route("/api/me/friends", get(friends::list_friends).post(friends::send_request))
        .route("/api/me/friends/{user_id}", delete(friends::remove))
        .route("/api/me/friends/{user_id}/accept", post(friends::accept))
        .route("/api/me/friends/{user_id}/decline", post(friends::decline))
        .route("/api/admin/users", post(accounts::admin_create_user))
        .route("/api/admin/users/bulk", post(accounts::admin_bulk_users))
        .route("/api/admin/users/{id}/role", put(accounts::admin_set_role))
        .route("/api/admin/stats", get(system::admin_stats))
        .route("/api/admin/wallets/{user}/grant", post(wallet::grant))
        .route("/api/queue/pass-key", get(queue::pass_key))
        .route("/api/sales/{id}/queue", get(queue::status))
        .route("/api/sales/{id}/queue/ws", get(queue::watch))
        .route("/api/sales/{id}/live/ws", get(live_routes::watch))
        .route("/api/sales/{id}/queue/join", post(queue::join))
        .route("/api/sales/{id}/queue/me", get(queue::me))
        .route("/api/sales/{id}/queue/pow", put(queue::set_pow))
        .route(
            "/api/sales",
            post(sales::create_sale).layer(DefaultBodyLimit::max(VENUE_BODY_LEN_MAX)).get(sales::list_sales),
        )
        .route("/api/sales/{id}", get(sales::get_sale).patch(sales::edit_sale).delete(sales::delete_sale))
        .route("/api/orders/{reference}", get(sales::order_by_reference))
        .route("/api/sales/{id}/open", post(sales::open_sale))
        .route("/api/sales/{id}/close", post(sales::close_sale))
        .route("/api/sales/{id}/holds", post(sales::reserve).get(sales::sale_holds))
        .route("/api/sales/{id}/holds/{hold}", delete(sales::cancel))
        .route("/api/sales/{id}/holds/{hold}/confirm", post(sales::confirm))
        .route("/api/sales/{id}/holds/{hold}/pay", post(wallet::pay))
        .route("/api/sales/{id}/orders/{order}/refund", post(sales::refund))
        .route("/api/sales/{id}/clicks", post(sales::click))
        .route("/api/me/tickets", get(tickets::my_tickets))
        .route("/api/sales/{id}/tickets/{ticket}", get(tickets::ticket))
        .route("/api/sales/{id}/tickets/{ticket}/transfer", post(tickets::transfer))
        .route("/api/sales/{id}/gate-kit", get(tickets::gate_kit))
        .route("/api/sales/{id}/checkin", post(tickets::checkin).get(tickets::checkin_progress))
        .route("/api/sales/{id}/checkin/sync", post(tickets::checkin_sync))
        .route("/api/sales/{id}/venue", get(seats::venue))
        .route("/api/sales/{id}/seats", get(seats::seat_map))
        .route("/api/sales/{id}/seats/ws", get(seats::watch))
        .route("/api/sales/{id}/seats/holds", post(seats::hold))
        .route("/api/sales/{id}/seats/holds/{hold}", delete(seats::cancel))
        .route("/api/sales/{id}/seats/holds/{hold}/confirm", post(seats::confirm))
        .route("/api/sales/{id}/seats/holds/{hold}/release", post(seats::release))
        .route("/api/sales/{id}/seats/holds/{hold}/swap", post(seats::swap))
        .route("/api/sales/{id}/seats/orders/{order}/refund", post(seats::refund))
        .route("/api/me/seats", get(seats::my_seats))
        .route(
            "/api/venues",
            post(venues::create_venue).layer(DefaultBodyLimit::max(VENUE_BODY_LEN_MAX)).get(venues::list_venues),
        )
        .route("/api/venues/{id}", get(venues::export_venue).delete(venues::delete_venue))
        .route("/api/sales/{id}/leaderboard", get(sales::leaderboard))
        .route("/api/sales/{id}/results", get(sales::results))
        .route("/api/sales/{id}/stats", get(sales::sale_stats))
        .route("/api/sales/{id}/log", get(log_routes::download))
        .route("/api/sales/{id}/log/me", get(log_routes::me))
        .route("/.well-known/stampede/receipt-key", get(log_routes::receipt_key))
        .merge(web::router());
    // On the routes only: a layer here knows the matched route template.
    let routes = if timed { routes.route_layer(crate::metrics::RequestMetricsLayer) } else { routes };
    routes
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LEN_MAX))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish and
/// waits until the log writer has committed everything queued.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    connections_max: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(listener, state, EdgeLimits { connections_max, ..EdgeLimits::default() }, shutdown).await
}

/// [`serve`] with chosen connection and request limits.
pub async fn serve_with_limits(
    listener: TcpListener,
    state: AppState,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let engine = state.engine.clone();
    // Payments and refunds a crash left half-way are settled from the start,
    // beside serving (routes::common::pay); wallet reads and payments wait
    // for it, so nobody sees one half-way. It waits for the read models,
    // which may be slow to come back (a full disk), and the rest of the
    // server must not wait with it.
    let resumer = tokio::spawn(routes::common::pay::resume_until_done(state.clone()));
    let pruner = tokio::spawn(prune_sessions(state.store.clone()));
    // Outermost first: request ids (so a shed answer carries one too), then the edge.
    let app = tower::ServiceBuilder::new()
        .layer(request_id::RefuseUnacceptableLayer)
        .layer(tower_http::request_id::SetRequestIdLayer::new(
            request_id::REQUEST_ID_HEADER.clone(),
            request_id::FreshUuid,
        ))
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(request_id::REQUEST_ID_HEADER.clone()))
        .layer(request_id::RequestSpanLayer)
        .layer(edge::EdgeLayer::new(limits))
        .service(compression::around(router(state)));
    let listener = listener::LimitedListener::new(listener, limits.connections_max, limits.idle_max);
    // Peer addresses (ConnectInfo<PeerAddr>) feed the waiting room's per-address join limit.
    listener::serve_connections(listener, app, limits.header_read_max, shutdown).await;
    pruner.abort();
    resumer.abort();
    engine.shutdown().await;
    Ok(())
}

/// Sessions expire after 30 days; without pruning a long-running server would
/// keep every expired one in memory until restart.
async fn prune_sessions(store: Store) {
    let mut every = tokio::time::interval(SESSION_PRUNE_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.prune_expired_sessions()).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(sessions = n, "pruned expired sessions"),
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning sessions failed"),
            _ => {}
        }
    }
}
