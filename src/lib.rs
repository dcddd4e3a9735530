//! ferrocache: a Redis client with a tiered cache, for Node.js. The layers,
//! from the JS boundary down (ARCHITECTURE.md has the picture and the rules):
//! `napi` (every `#[napi]` item) → `client` (one client's parts wired) →
//! `bridge` (results to JS), `cache`, `features` → `backend` → the leaves
//! `resp`, `config`, `target`, `redact`, `error`, `glob`, `clock`, `metrics`, `info`.

#![deny(clippy::unwrap_used)]
// The house rule on `unsafe`, checked: every unsafe operation sits in its own
// block, and every block says why it is sound.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod backend;
mod bridge;
mod cache;
mod client;
mod clock;
mod config;
mod error;
mod features;
mod glob;
mod info;
mod metrics;
mod napi;
mod redact;
mod resp;
mod target;
