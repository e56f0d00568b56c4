//! The tool catalogue's server side: its SQL (`repo`), its operations (`service`), the calls
//! themselves (`exec`), MCP servers as a client sees them (`mcp`) and its REST routes (`rest`).

pub mod exec;
pub mod mcp;
pub mod repo;
pub mod rest;
pub mod service;
