#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of the HTTP API against the real server: each test
//! starts `stampede_server::serve` on 127.0.0.1:0 over a fresh data directory
//! and talks to it with reqwest. One binary, to keep link time down.
//!
//! Users are made with the admin bulk endpoint (no argon2); only `accounts`
//! signs up and logs in for real.

#[path = "api/common.rs"]
mod common;

#[path = "api/accounts.rs"]
mod accounts;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/compression.rs"]
mod compression;
#[path = "api/credentials.rs"]
mod credentials;
#[path = "api/drops.rs"]
mod drops;
#[path = "api/edge.rs"]
mod edge;
#[path = "api/faults.rs"]
mod faults;
#[path = "api/friends.rs"]
mod friends;
#[path = "api/idempotency.rs"]
mod idempotency;
#[path = "api/live.rs"]
mod live;
#[path = "api/log_audit.rs"]
mod log_audit;
#[path = "api/metrics.rs"]
mod metrics;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/orders.rs"]
mod orders;
#[path = "api/owner.rs"]
mod owner;
#[path = "api/projections.rs"]
mod projections;
#[path = "api/public_log.rs"]
mod public_log;
#[path = "api/queue.rs"]
mod queue;
#[path = "api/restart.rs"]
mod restart;
#[path = "api/seams.rs"]
mod seams;
#[path = "api/seats.rs"]
mod seats;
#[path = "api/stock.rs"]
mod stock;
#[path = "api/system.rs"]
mod system;
#[path = "api/tickets.rs"]
mod tickets;
#[path = "api/venues.rs"]
mod venues;
#[path = "api/wallet.rs"]
mod wallet;
#[path = "api/wallet_model.rs"]
mod wallet_model;
#[path = "api/words.rs"]
mod words;
