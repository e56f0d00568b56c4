//! The tool catalogue's server side: its SQL (`repo`), its operations (`service`), the calls
//! themselves (`exec`) and its REST routes (`rest`).

pub mod exec;
pub mod repo;
pub mod rest;
pub mod service;
