//! The `lockstep` server: the generated handler traits of `lockstep-contract`
//! implemented by domain, on top of one storage interface.
//!
//! The library's one public item is [`run`], what the binary does; every
//! module is private to the crate. See ARCHITECTURE.md at the repository
//! root for the layers these modules form and how an event flows through
//! them.

mod about;
mod app;
mod auth;
mod call;
mod chat;
mod cli;
mod cluster;
mod config;
mod connection;
mod demo;
mod expiry;
mod failure;
mod health;
mod limits;
mod message;
mod origin;
mod permissions;
mod presence;
mod refusal;
mod render;
mod rest;
mod services;
mod session;
mod state;
mod store;
mod telemetry;
mod transport;
mod version;

pub use cli::run;
