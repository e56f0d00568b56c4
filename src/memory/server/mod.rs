//! Memory on the server: its SQL, the recent list in Redis, the background indexer and its
//! sweeper, the reads behind the memory browser, and the REST route.

pub mod import;
pub mod indexer;
pub mod jobs;
pub mod recent;
pub mod repo;
pub mod rest;
pub mod retention;
pub mod service;
pub mod sweeper;
