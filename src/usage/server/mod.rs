//! Usage on the server: SQL, the report, REST routes.

pub mod budget;
pub mod repo;
pub mod rest;
pub mod service;
