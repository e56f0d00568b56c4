//! Knowledge's server side: its SQL (`repo`), its operations (`service`), text extraction and
//! splitting (`extract`), the background ingester (`ingest`), an upload's form (`form`, read
//! alike by the REST route and the page's server function) and the REST routes (`rest`).

pub mod extract;
pub mod form;
pub mod ingest;
pub mod repo;
pub mod rest;
pub mod service;
