//! Rate limiting: four algorithms, each computed in integers so that the Lua
//! script that runs it on Redis (`ratelimit_*.lua`, beside its algorithm's
//! module) and its Rust twin here admit exactly the same requests and report
//! the same numbers.
//!
//! The twins are pure functions of `(stored state, now, params, cost, peek)`.
//! They return the state to store (`None`: leave the stored state as it is; a
//! peek or a denial writes nothing) and the outcome. A stored state matters for
//! `outcome.reset_ms` only: after that, no state means the same as the old one
//! (a full limiter). So the scripts give the key exactly that TTL, and any
//! store that forgets expired states (Redis, `local`, an embedded backend)
//! agrees with the others.
//!
//! The twins serve `onRedisError: 'local'` (a per-process limiter while Redis
//! is unreachable, `fallback.rs`), and `memory://` runs them in place of the
//! scripts (`twin.rs`, over the store's keys as the scripts keep them).

pub mod fallback;
mod fixed_window;
mod gcra;
mod sliding_window;
mod token_bucket;
pub mod twin;

pub use fixed_window::{fixed_window, FixedWindow};
pub use gcra::{gcra, Gcra};
pub use sliding_window::{sliding_window, SlidingWindow};
pub use token_bucket::{token_bucket, TokenBucket};

use crate::error::{Error, Result};

/// The largest `limit × window` and `burst × window` (window in ms). Below
/// it, every intermediate value of the scripts is an integer that Lua's
/// doubles hold exactly, so Lua and Rust never round differently.
pub const MAX_UNITS: u64 = 1 << 50;

/// A limiter's configuration, validated once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
  limit: u64,
  window_ms: u64,
  burst: u64,
}

impl Params {
  /// `limit` per `window_ms`; `burst` is the bucket size of the token bucket
  /// and GCRA (the window algorithms ignore it).
  pub fn new(limit: u64, window_ms: u64, burst: u64) -> Result<Params> {
    if limit == 0 || window_ms == 0 || burst == 0 {
      return Err(Error::invalid(
        "limit, window and burst must be positive integers",
      ));
    }
    let fits = |n: u64| n.checked_mul(window_ms).is_some_and(|u| u <= MAX_UNITS);
    if !fits(limit) || !fits(burst) {
      return Err(Error::invalid(format!(
        "limit (and burst) times the window in ms must not exceed 2^50, got {} × {window_ms} ms",
        limit.max(burst)
      )));
    }
    Ok(Params {
      limit,
      window_ms,
      burst,
    })
  }
}

/// What one call reports (the scripts reply with the same four integers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
  pub allowed: bool,
  /// What is left after this call (before it, for a peek).
  pub remaining: u64,
  /// Ms until the limiter is full again if nothing else is admitted.
  pub reset_ms: u64,
  /// Ms until a request of the same cost would be admitted (0 when allowed).
  pub retry_after_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
  FixedWindow,
  SlidingWindow,
  TokenBucket,
  Gcra,
}

/// Every algorithm.
pub const ALGORITHMS: [Algorithm; 4] = [
  Algorithm::FixedWindow,
  Algorithm::SlidingWindow,
  Algorithm::TokenBucket,
  Algorithm::Gcra,
];

/// The stored state of one id, whichever the algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
  FixedWindow(FixedWindow),
  SlidingWindow(SlidingWindow),
  TokenBucket(TokenBucket),
  Gcra(Gcra),
}

impl Algorithm {
  /// Its name in the public API (`'fixed-window'`...).
  pub fn name(self) -> &'static str {
    match self {
      Algorithm::FixedWindow => "fixed-window",
      Algorithm::SlidingWindow => "sliding-window",
      Algorithm::TokenBucket => "token-bucket",
      Algorithm::Gcra => "gcra",
    }
  }

  /// The algorithm of a public name; an error lists them all.
  pub fn from_name(name: &str) -> Result<Algorithm> {
    ALGORITHMS
      .into_iter()
      .find(|a| a.name() == name)
      .ok_or_else(|| {
        let names: Vec<&str> = ALGORITHMS.iter().map(|a| a.name()).collect();
        Error::invalid(format!(
          "algorithm must be one of {}, got {name:?}",
          names.join(", ")
        ))
      })
  }

  /// The name of its script in the registry (`features::scripts`).
  pub fn script(self) -> &'static str {
    match self {
      Algorithm::FixedWindow => "ratelimit_fixed_window",
      Algorithm::SlidingWindow => "ratelimit_sliding_window",
      Algorithm::TokenBucket => "ratelimit_token_bucket",
      Algorithm::Gcra => "ratelimit_gcra",
    }
  }

  /// What a full limiter holds: `limit` for the windows, `burst` for the buckets.
  pub fn capacity(self, params: &Params) -> u64 {
    match self {
      Algorithm::FixedWindow | Algorithm::SlidingWindow => params.limit,
      Algorithm::TokenBucket | Algorithm::Gcra => params.burst,
    }
  }

  /// One call of this algorithm. A state of another algorithm counts as none.
  pub fn run(
    self,
    state: Option<&State>,
    now_ms: u64,
    params: &Params,
    cost: u64,
    peek: bool,
  ) -> (Option<State>, Outcome) {
    match self {
      Algorithm::FixedWindow => {
        let s = match state {
          Some(State::FixedWindow(s)) => Some(s),
          _ => None,
        };
        let (next, outcome) = fixed_window(s, now_ms, params, cost, peek);
        (next.map(State::FixedWindow), outcome)
      }
      Algorithm::SlidingWindow => {
        let s = match state {
          Some(State::SlidingWindow(s)) => Some(s),
          _ => None,
        };
        let (next, outcome) = sliding_window(s, now_ms, params, cost, peek);
        (next.map(State::SlidingWindow), outcome)
      }
      Algorithm::TokenBucket => {
        let s = match state {
          Some(State::TokenBucket(s)) => Some(s),
          _ => None,
        };
        let (next, outcome) = token_bucket(s, now_ms, params, cost, peek);
        (next.map(State::TokenBucket), outcome)
      }
      Algorithm::Gcra => {
        let s = match state {
          Some(State::Gcra(s)) => Some(s),
          _ => None,
        };
        let (next, outcome) = gcra(s, now_ms, params, cost, peek);
        (next.map(State::Gcra), outcome)
      }
    }
  }
}

#[cfg(test)]
mod tests;
