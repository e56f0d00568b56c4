//! The integration tests, in one binary: each test gets a fresh database from `#[sqlx::test]`
//! on the server in DATABASE_URL and uses the real Redis in REDIS_URL. `helpers` starts a real
//! server on port 0 and sends it typed requests; the OpenAI-compatible stub is the `openai-stub`
//! crate in tests/stub.

mod helpers;

mod attacks;
mod audit_chain;
mod db_faults;
mod db_rls;
mod faults;
mod fuzz;
mod interact;
mod keys;
mod knowledge;
mod local_models;
mod mcp;
mod memory;
mod openapi;
mod people;
mod platform;
mod provider_faults;
mod rest_api;
mod rest_inputs;
mod security;
mod support;
mod tools;
mod usage;
