//! Clients on the server: SQL, onboarding and reads, REST routes.

pub mod limits;
pub mod repo;
pub mod rest;
pub mod service;
