//! The contract-independent half of Lockstep's socket glue, beside the
//! generated `lockstep-contract` crate (as `progenitor-client` sits beside
//! progenitor's output): what is the same for every contract lives here as
//! ordinary source; the generated crate supplies only a table and the
//! shapes of its refusals.
//!
//! - [`dispatch`]: [`register`] and the one generic dispatch that drives a
//!   generated [`Table`].
//! - [`queue`]: the per-socket queue that keeps a socket's events in order.
//! - [`drain`]: the handle the server owns to stop taking events at
//!   shutdown and wait for the queued ones.
//! - [`validate`]: JSON Schema checks and decoding of payloads.
//! - [`refusal`]: [`Refusal`] and the codes the runtime refuses with.

pub mod dispatch;
pub mod drain;
pub mod queue;
pub mod refusal;
pub mod validate;

pub use dispatch::{
    Answer, EventContext, HasAck, Observe, Received, RefusalEvent, Route, Table, register,
    with_echoed,
};
pub use drain::Drain;
pub use refusal::{Refusal, RefusalCode, bounded};
pub use validate::{Echoed, Schemas, echoed_field};
