//! What every feature's server part stands on: settings, the shared state, the database (pools,
//! tenant transactions), Redis, HTTP extractors and error mapping, outbound HTTP kept off
//! internal addresses, telemetry, and start-up — the only module that knows every feature.

pub mod config;
pub mod db;
pub mod error;
pub mod fns;
pub mod health;
pub mod http;
pub mod limits;
pub mod openapi;
pub mod outbound;
pub mod ranking;
pub mod redis;
pub mod secrets;
pub mod serve;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use state::AppState;
