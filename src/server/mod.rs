//! Server-only code: configuration, state, database, cache, authentication and the services.

pub mod ai;
pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod employee_cache;
pub mod error;
pub mod interact;
pub mod memory;
pub mod ml;
pub mod repo;
pub mod service;
pub mod startup;
pub mod state;

pub use state::AppState;
