//! The `lockstep` server: the generated handler traits of `lockstep-contract`
//! implemented by domain, on top of one storage interface.
//!
//! See ARCHITECTURE.md at the repository root for how an event flows
//! through these modules.

pub mod about;
pub mod app;
pub mod auth;
pub mod call;
pub mod chat;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod demo;
pub mod expiry;
pub mod health;
pub mod limits;
pub mod message;
pub mod origin;
pub mod presence;
pub mod refusal;
pub mod rest;
pub mod services;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod transport;
pub mod version;
