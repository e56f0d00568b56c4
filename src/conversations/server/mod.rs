//! A turn on the server: prepare (employee, memory, prompt), call the models, store; whole or
//! streamed (and stopped), with the function-calling rounds (`tool_loop`); the exchanges' SQL and
//! the REST routes.

pub mod repo;
pub mod rest;
pub mod service;
pub mod stop;
pub mod stream;
pub mod tool_loop;
