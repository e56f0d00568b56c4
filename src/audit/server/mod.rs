//! The audit trail on the server: SQL, recording (inside the caller's transaction), reads, REST.

pub mod chain;
pub mod repo;
pub mod rest;
pub mod service;
