//! Knowledge's server side: its SQL (`repo`), its operations (`service`), text extraction and
//! splitting (`extract`), the background ingester (`ingest`) and the REST routes (`rest`).

pub mod extract;
pub mod ingest;
pub mod repo;
pub mod rest;
pub mod service;
