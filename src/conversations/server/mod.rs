//! A turn on the server: prepare (employee, memory, prompt), call the models, store; whole or
//! streamed (and stopped); the exchanges' SQL and the REST routes.

pub mod repo;
pub mod rest;
pub mod service;
pub mod stop;
pub mod stream;
