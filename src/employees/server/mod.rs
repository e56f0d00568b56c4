//! Employees on the server: SQL, the lifecycle service, the in-process cache, REST routes.

pub mod cache;
pub mod lookup;
pub mod repo;
pub mod rest;
pub mod service;
