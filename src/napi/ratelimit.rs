//! Rate limiting as JS calls it: a limiter's script, and the per-process
//! limiter behind `onRedisError: 'local'`.

use std::time::{SystemTime, UNIX_EPOCH};

use napi_derive::napi;

use super::NativeClient;
use crate::error::{Error, Kind, Result};
use crate::features::ratelimit::{fallback, Algorithm, Params};
use crate::features::scripts;

/// How the JS limiter describes itself to the local fallback.
#[napi(object)]
pub struct LimiterSpec {
  pub algorithm: String,
  pub limit: f64,
  pub window_ms: f64,
  pub burst: f64,
  /// Its key head, `<keyPrefix>ratelimit:{<name>:`: the local table it uses
  /// (default: one shared by every limiter that names none).
  pub table: Option<String>,
  /// Most ids of its local table (`localMaxIds`; default 65,536).
  pub local_max_ids: Option<f64>,
}

/// A positive integer that f64 holds exactly.
fn whole(name: &str, n: f64) -> Result<u64> {
  if n.is_finite() && n >= 1.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 {
    Ok(n as u64)
  } else {
    Err(Error::invalid(format!(
      "{name} must be a positive integer, got {n}"
    )))
  }
}

/// The limiter `spec` describes, checked once for both the script and the
/// local limiter (the algorithm names and the 2^50 bound live in Rust only).
fn limiter(spec: &LimiterSpec) -> Result<(Algorithm, Params)> {
  let algorithm = Algorithm::from_name(&spec.algorithm)?;
  let params = Params::new(
    whole("limit", spec.limit)?,
    whole("window", spec.window_ms)?,
    whole("burst", spec.burst)?,
  )?;
  Ok((algorithm, params))
}

/// The script a limiter runs on the server: its registry name (for the
/// NOSCRIPT fallback) and SHA (for EVALSHA).
#[napi(object)]
pub struct LimiterScript {
  pub name: String,
  pub sha: String,
}

fn clock_ms() -> u64 {
  SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .map_or(0, |d| d.as_millis() as u64)
}

#[napi]
impl NativeClient {
  /// One call of the per-process limiter behind `onRedisError: 'local'`,
  /// replied like the scripts: `[allowed 0|1, remaining, resetMs, retryAfterMs]`.
  /// `key` is the full Redis key; `nowMs` replaces this host's clock
  /// (deterministic replays in tests).
  #[napi]
  pub fn rate_limit_local(
    &self,
    spec: LimiterSpec,
    key: String,
    cost: f64,
    peek: bool,
    now_ms: Option<f64>,
  ) -> napi::Result<Vec<f64>, Kind> {
    let (algorithm, params) = limiter(&spec)?;
    let cost = whole("cost", cost)?;
    if cost > algorithm.capacity(&params) {
      return Err(Error::invalid("cost must not exceed the limiter's capacity").into());
    }
    let now = match now_ms {
      Some(n) => whole("nowMs", n)?,
      None => clock_ms(),
    };
    let max_ids = match spec.local_max_ids {
      Some(n) => usize::try_from(whole("localMaxIds", n)?).unwrap_or(usize::MAX),
      None => fallback::DEFAULT_MAX_IDS,
    };
    let table = fallback::Table {
      name: spec.table.as_deref().unwrap_or_default(),
      max_ids,
    };
    let o = fallback::run(&table, &key, algorithm, &params, cost, peek, now);
    Ok(vec![
      f64::from(u8::from(o.allowed)),
      o.remaining as f64,
      o.reset_ms as f64,
      o.retry_after_ms as f64,
    ])
  }

  /// Checks a limiter's configuration (algorithm, positive integers, the 2^50
  /// bound) and names its script; JS calls it once per limiter.
  #[napi]
  pub fn rate_limit_script(&self, spec: LimiterSpec) -> napi::Result<LimiterScript, Kind> {
    let (algorithm, _) = limiter(&spec)?;
    let name = algorithm.script();
    let sha = scripts::sha(name).ok_or_else(|| Error::invalid(format!("unknown script {name}")))?;
    Ok(LimiterScript {
      name: name.to_string(),
      sha: sha.to_string(),
    })
  }

  /// Forgets the local state of one full key (`limiter.reset(id)`).
  #[napi]
  pub fn rate_limit_local_reset(&self, key: String) {
    fallback::forget(&key);
  }
}
