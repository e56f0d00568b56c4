//! Interfaces: server functions used by the pages, and the REST API for programs.

pub mod fns;
#[cfg(feature = "ssr")]
pub mod rest;
