//! Accounts on the server: API keys (issue, hash, verify), the principal resolved once per
//! request, and the extractors handlers use.

pub mod keys;
pub mod people;
pub mod policy;
pub mod principal;
pub mod repo;
pub mod rest;
pub mod sessions;
pub mod support;
pub mod throttle;
