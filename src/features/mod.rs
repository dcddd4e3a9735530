//! What the library builds on Redis besides the cache: rate limiting, the
//! registry of its Lua scripts (each with the native twin `memory://` runs in
//! its place), the job queue's helpers.

pub mod queue;
pub mod ratelimit;
pub mod scripts;
