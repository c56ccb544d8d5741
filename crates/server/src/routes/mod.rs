//! The HTTP routes, grouped by who uses them.

pub mod accounts;
pub mod common;
pub mod friends;
pub mod live;
pub mod log;
pub mod queue;
pub mod sales;
pub mod seats;
pub mod system;
pub mod tickets;
pub mod venues;
pub mod wallet;
