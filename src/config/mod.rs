//! Client options: validated once, at construction, naming the option at fault.
//!
//! Durations arrive from JavaScript already in milliseconds (the JS layer owns
//! the one `Duration` parser, since per-call TTLs are parsed on the hot path).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use napi_derive::napi;

use crate::error::{Error, Result};
use crate::redact;
use crate::target::{SentinelTarget, TlsOptions};

mod local;
mod memory_url;
mod multi_host;

pub use local::LocalConfig;
pub use memory_url::MemoryUrl;

/// Options of the native client, as `toNative` in `lib/client.js` hands them
/// over: the `ClientOptions` of `index.d.ts` (the one place each option is
/// documented, with its unit and default), flattened, durations in ms. Only
/// the fields with no public counterpart are described here.
#[napi(object)]
#[derive(Default)]
pub struct NativeOptions {
  pub url: Option<String>,
  pub cluster: Option<Vec<String>>,
  pub sentinel_name: Option<String>,
  pub sentinel_nodes: Option<Vec<String>>,
  pub sentinel_username: Option<String>,
  pub sentinel_password: Option<String>,
  pub sentinel_db: Option<f64>,
  /// TLS even without `rediss://` (the JS `tls` option was given).
  pub tls: Option<bool>,
  pub tls_ca: Option<String>,
  pub tls_servername: Option<String>,
  pub key_prefix: Option<String>,
  pub default_ttl_ms: Option<f64>,
  /// `local: false` in JS.
  pub local_enabled: Option<bool>,
  pub local_max_entries: Option<f64>,
  pub local_max_bytes: Option<f64>,
  pub local_ttl_ms: Option<f64>,
  pub local_coherence: Option<String>,
  pub connect_timeout_ms: Option<f64>,
  pub command_timeout_ms: Option<f64>,
  pub fail_fast: Option<bool>,
  /// `REDIS_URL`, `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`, `REDIS_DB` as
  /// Node sees them (`process.env`, which Jest sandboxes per test file).
  pub env: Option<HashMap<String, String>>,
}

/// Where the client connects. `Debug` hides the passwords of the URLs.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
  /// A single Redis server, by URL.
  Redis(String),
  /// A Redis Cluster, by seed node URLs (`redis://` or `rediss://`).
  Cluster(Vec<String>),
  /// The master a set of sentinels names.
  Sentinel(SentinelTarget),
  /// The embedded store: `memory://` (private) or `memory://name` (shared
  /// in the process), optionally `?maxBytes=N`.
  Memory(MemoryUrl),
}

impl fmt::Debug for Target {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Target::Redis(url) => f.debug_tuple("Redis").field(&redact::url(url)).finish(),
      Target::Cluster(seeds) => f
        .debug_tuple("Cluster")
        .field(&redact::Urls(seeds))
        .finish(),
      Target::Sentinel(s) => f.debug_tuple("Sentinel").field(s).finish(),
      Target::Memory(m) => f.debug_tuple("Memory").field(m).finish(),
    }
  }
}

/// How the L1 learns of changes made by other clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoherenceMode {
  /// Server-assisted invalidation (`backend/tracking.rs`): copies are evicted
  /// within milliseconds of a change anywhere.
  Tracking,
  /// None: a copy may be stale until its L1 ttl.
  Ttl,
}

impl CoherenceMode {
  fn parse(value: Option<&str>) -> Result<CoherenceMode> {
    match value {
      None | Some("tracking") => Ok(CoherenceMode::Tracking),
      Some("ttl") => Ok(CoherenceMode::Ttl),
      Some(_) => Err(Error::invalid(
        "local.coherence must be 'tracking' or 'ttl'",
      )),
    }
  }
}

/// Validated client configuration. Its `Debug` shows no password: its
/// `target`'s hides them.
#[derive(Debug)]
pub struct Config {
  pub target: Target,
  /// `Some`: every connection is TLS (`rediss://` or the `tls` option).
  pub tls: Option<TlsOptions>,
  pub key_prefix: String,
  pub default_ttl_ms: u64,
  pub local: Option<LocalConfig>,
  pub coherence: CoherenceMode,
  pub connect_timeout: Duration,
  pub command_timeout: Duration,
  pub fail_fast: bool,
}

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

impl Config {
  /// Validates `opts`; the URL falls back on the environment JS handed over.
  pub fn from_options(mut opts: NativeOptions) -> Result<Config> {
    let env = opts.env.take().unwrap_or_default();
    let target = resolve_target(&mut opts, &|name: &str| env.get(name).cloned())?;
    let tls = tls_options(&mut opts, &target)?;
    let defaults = LocalConfig::default();
    let coherence = CoherenceMode::parse(opts.local_coherence.as_deref())?;
    let local = if opts.local_enabled == Some(false) {
      None
    } else {
      Some(LocalConfig {
        max_entries: count(
          "local.maxEntries",
          opts.local_max_entries,
          defaults.max_entries,
        )?,
        max_bytes: count("local.maxBytes", opts.local_max_bytes, defaults.max_bytes)?,
        ttl_ms: millis("local.ttl", opts.local_ttl_ms, defaults.ttl_ms)?,
      })
    };
    Ok(Config {
      target,
      tls,
      key_prefix: opts.key_prefix.unwrap_or_default(),
      default_ttl_ms: millis("defaultTtl", opts.default_ttl_ms, 300_000)?,
      local,
      coherence,
      connect_timeout: Duration::from_millis(millis(
        "connectTimeoutMs",
        opts.connect_timeout_ms,
        2_000,
      )?),
      command_timeout: Duration::from_millis(millis(
        "commandTimeoutMs",
        opts.command_timeout_ms,
        1_000,
      )?),
      fail_fast: opts.fail_fast.unwrap_or(false),
    })
  }
}

/// `cluster`, `sentinel` or `url` (at most one of them), else the environment.
fn resolve_target(
  opts: &mut NativeOptions,
  env: &impl Fn(&str) -> Option<String>,
) -> Result<Target> {
  let given = [
    opts.url.is_some(),
    opts.cluster.is_some(),
    opts.sentinel_name.is_some() || opts.sentinel_nodes.is_some(),
  ];
  if given.iter().filter(|g| **g).count() > 1 {
    return Err(Error::invalid(
      "give one of url, cluster and sentinel, not several",
    ));
  }
  if let Some(seeds) = opts.cluster.take() {
    return cluster_target(seeds);
  }
  if opts.sentinel_name.is_some() || opts.sentinel_nodes.is_some() {
    let db = match opts.sentinel_db {
      None => 0,
      Some(d) if d.is_finite() && d >= 0.0 && d.fract() == 0.0 && d < 1e9 => d as i64,
      Some(_) => return Err(Error::invalid("sentinel.db must be a whole number ≥ 0")),
    };
    return sentinel_target(SentinelTarget {
      name: opts.sentinel_name.take().unwrap_or_default(),
      sentinels: opts.sentinel_nodes.take().unwrap_or_default(),
      username: opts.sentinel_username.take(),
      password: opts.sentinel_password.take(),
      db,
    });
  }
  resolve_url(opts.url.take(), env)
}

fn cluster_target(seeds: Vec<String>) -> Result<Target> {
  if seeds.is_empty() || !seeds.iter().all(|s| single_server_url(s)) {
    return Err(Error::invalid(
      "cluster must list seed nodes as redis://[user:pass@]host:port URLs",
    ));
  }
  Ok(Target::Cluster(seeds))
}

fn sentinel_target(target: SentinelTarget) -> Result<Target> {
  if target.name.is_empty() {
    return Err(Error::invalid("sentinel.name must name the master"));
  }
  if target.sentinels.is_empty() || !target.sentinels.iter().all(|s| single_server_url(s)) {
    return Err(Error::invalid(
      "sentinel.nodes must list sentinels as redis://[user:pass@]host:port URLs",
    ));
  }
  Ok(Target::Sentinel(target))
}

/// `redis+cluster://` and `redis+sentinel://` URLs, as the targets they name.
fn multi_host_target(url: &str) -> Option<Result<Target>> {
  if let Some(parsed) = multi_host::parse(url, "cluster") {
    return Some(parsed.and_then(|p| cluster_target(p.server_urls())));
  }
  let parsed = multi_host::parse(url, "sentinel")?;
  Some(parsed.and_then(|p| {
    let bad =
      || Error::invalid("url: expected redis+sentinel://[user:pass@]host:port,.../master[/db]");
    let mut path = p.path.split('/');
    let name = path.next().unwrap_or_default().to_string();
    let db = match path.next() {
      None | Some("") => 0,
      Some(d) => d.parse::<i64>().ok().filter(|d| *d >= 0).ok_or_else(bad)?,
    };
    let (username, password) = match p.userinfo {
      None => (None, None),
      Some(info) => {
        let (user, pass) = info.split_once(':').unwrap_or((info, ""));
        let decode = |s: &str| percent_decode(s).ok_or_else(bad);
        let user = Some(decode(user)?).filter(|u| !u.is_empty());
        (user, Some(decode(pass)?).filter(|p| !p.is_empty()))
      }
    };
    // The credentials are the master's; sentinels get theirs from the options form.
    let scheme = if p.tls { "rediss" } else { "redis" };
    let sentinels = p.hosts.iter().map(|h| format!("{scheme}://{h}")).collect();
    sentinel_target(SentinelTarget {
      name,
      sentinels,
      username,
      password,
      db,
    })
  }))
}

/// Whether `url` is a `redis://` or `rediss://` URL of one server.
fn single_server_url(url: &str) -> bool {
  (url.starts_with("redis://") || url.starts_with("rediss://"))
    && redis::IntoConnectionInfo::into_connection_info(url)
      .is_ok_and(|info| info.redis_settings().db() >= 0)
}

/// TLS when a URL says `rediss` or the `tls` option was given; the CA, if
/// any, must hold at least one PEM certificate.
fn tls_options(opts: &mut NativeOptions, target: &Target) -> Result<Option<TlsOptions>> {
  let by_url = match target {
    Target::Redis(url) => url.starts_with("rediss://"),
    Target::Cluster(seeds) => seeds.iter().any(|s| s.starts_with("rediss://")),
    Target::Sentinel(s) => s.sentinels.iter().any(|s| s.starts_with("rediss://")),
    Target::Memory(_) => false,
  };
  if !by_url && opts.tls != Some(true) {
    return Ok(None);
  }
  if matches!(target, Target::Memory(_)) {
    return Err(Error::invalid("tls does not apply to memory://"));
  }
  let ca = opts.tls_ca.take();
  if let Some(pem) = &ca {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes());
    let mut count = 0;
    for cert in certs {
      if cert.is_err() {
        return Err(Error::invalid("tls.ca: not a PEM certificate bundle"));
      }
      count += 1;
    }
    if count == 0 {
      return Err(Error::invalid("tls.ca: no PEM certificate found"));
    }
  }
  let servername = opts.tls_servername.take();
  if servername
    .as_deref()
    .is_some_and(|n| rustls_pki_types::ServerName::try_from(n).is_err())
  {
    return Err(Error::invalid(
      "tls.servername: not a valid DNS name or IP address",
    ));
  }
  Ok(Some(TlsOptions { ca, servername }))
}

/// Decodes `%XX` escapes of a URL userinfo component.
fn percent_decode(s: &str) -> Option<String> {
  let bytes = s.as_bytes();
  let mut out = Vec::with_capacity(bytes.len());
  let mut i = 0;
  while i < bytes.len() {
    if bytes[i] == b'%' {
      let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
      out.push(u8::from_str_radix(hex, 16).ok()?);
      i += 3;
    } else {
      out.push(bytes[i]);
      i += 1;
    }
  }
  String::from_utf8(out).ok()
}

/// The explicit URL, else the environment, else the local default; checked
/// to be a Redis (or `memory://`) URL without echoing it (it may hold a password).
fn resolve_url(explicit: Option<String>, env: &impl Fn(&str) -> Option<String>) -> Result<Target> {
  let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
  let url = match non_empty(explicit).or_else(|| non_empty(env("REDIS_URL"))) {
    Some(url) => url,
    None => match non_empty(env("REDIS_HOST")) {
      Some(host) => url_from_parts(&host, env),
      None => DEFAULT_URL.to_string(),
    },
  };
  if let Some(memory) = MemoryUrl::parse(&url) {
    return memory.map(Target::Memory);
  }
  if let Some(target) = multi_host_target(&url) {
    return target;
  }
  if !single_server_url(&url) {
    return Err(Error::invalid(
      "url: not a valid Redis URL (expected redis[s]://[user:pass@]host:port/db, \
       redis+cluster://, redis+sentinel:// or memory://)",
    ));
  }
  Ok(Target::Redis(url))
}

fn url_from_parts(host: &str, env: &impl Fn(&str) -> Option<String>) -> String {
  let port = env("REDIS_PORT").unwrap_or_else(|| "6379".into());
  let auth = env("REDIS_PASSWORD")
    .filter(|p| !p.is_empty())
    .map(|p| format!(":{}@", percent_encode(&p)))
    .unwrap_or_default();
  let db = env("REDIS_DB").map(|d| format!("/{d}")).unwrap_or_default();
  format!("redis://{auth}{host}:{port}{db}")
}

/// Percent-encodes a URL userinfo component (passwords may hold `@`, `:` or `/`).
fn percent_encode(s: &str) -> String {
  s.bytes()
    .map(|b| match b {
      b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
        (b as char).to_string()
      }
      _ => format!("%{b:02X}"),
    })
    .collect()
}

fn millis(name: &str, value: Option<f64>, default: u64) -> Result<u64> {
  match value {
    None => Ok(default),
    Some(v) if v.is_finite() && v > 0.0 && v <= u32::MAX as f64 => Ok(v.ceil() as u64),
    Some(_) => Err(Error::invalid(format!(
      "{name} must be a positive, finite duration"
    ))),
  }
}

fn count(name: &str, value: Option<f64>, default: usize) -> Result<usize> {
  match value {
    None => Ok(default),
    Some(v) if v.is_finite() && v >= 1.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => {
      Ok(v as usize)
    }
    Some(_) => Err(Error::invalid(format!("{name} must be a positive integer"))),
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::error::Kind;

  fn with_env(vars: &[(&str, &str)], opts: NativeOptions) -> Result<Config> {
    let env = vars
      .iter()
      .map(|(k, v)| (k.to_string(), v.to_string()))
      .collect();
    Config::from_options(NativeOptions {
      env: Some(env),
      ..opts
    })
  }

  fn url_of(cfg: Result<Config>) -> String {
    match cfg.map(|c| c.target) {
      Ok(Target::Redis(url)) => url,
      Ok(other) => panic!("unexpected target {other:?}"),
      Err(e) => panic!("unexpected error {e}"),
    }
  }

  #[test]
  fn explicit_url_wins_over_environment() {
    let opts = NativeOptions {
      url: Some("redis://h:1/2".into()),
      ..Default::default()
    };
    assert_eq!(
      url_of(with_env(&[("REDIS_URL", "redis://e:3")], opts)),
      "redis://h:1/2"
    );
  }

  #[test]
  fn redis_url_then_parts_then_default() {
    assert_eq!(
      url_of(with_env(
        &[("REDIS_URL", "redis://e:3")],
        NativeOptions::default()
      )),
      "redis://e:3"
    );
    let parts = [
      ("REDIS_HOST", "db.local"),
      ("REDIS_PORT", "6380"),
      ("REDIS_PASSWORD", "p@ss"),
      ("REDIS_DB", "4"),
    ];
    assert_eq!(
      url_of(with_env(&parts, NativeOptions::default())),
      "redis://:p%40ss@db.local:6380/4"
    );
    assert_eq!(url_of(with_env(&[], NativeOptions::default())), DEFAULT_URL);
  }

  #[test]
  fn bad_url_is_invalid_and_not_echoed() {
    let opts = NativeOptions {
      url: Some("http://user:secret@host".into()),
      ..Default::default()
    };
    let err = with_env(&[], opts)
      .err()
      .map(|e| (e.kind(), e.message().to_string()));
    let (kind, message) = err.unwrap_or((Kind::Redis, String::new()));
    assert_eq!(kind, Kind::InvalidArgument);
    assert!(!message.contains("secret"));
  }

  #[test]
  fn a_negative_db_is_invalid() {
    let opts = NativeOptions {
      url: Some("redis://127.0.0.1:6379/-1".into()),
      ..Default::default()
    };
    assert_eq!(
      with_env(&[], opts).err().map(|e| e.kind()),
      Some(Kind::InvalidArgument)
    );
  }

  #[test]
  fn durations_and_counts_are_validated_by_name() {
    for bad in [f64::NAN, -1.0, 0.0, f64::INFINITY] {
      let opts = NativeOptions {
        command_timeout_ms: Some(bad),
        ..Default::default()
      };
      let err = with_env(&[], opts).err().map(|e| e.message().to_string());
      assert!(err.unwrap_or_default().contains("commandTimeoutMs"));
    }
    let opts = NativeOptions {
      local_max_entries: Some(1.5),
      ..Default::default()
    };
    let err = with_env(&[], opts).err().map(|e| e.message().to_string());
    assert!(err.unwrap_or_default().contains("local.maxEntries"));
  }

  #[test]
  fn defaults_are_bounded() {
    let cfg = with_env(&[], NativeOptions::default()).ok();
    let cfg = cfg.as_ref();
    assert_eq!(
      cfg.map(|c| c.command_timeout),
      Some(Duration::from_millis(1000))
    );
    assert_eq!(cfg.map(|c| c.default_ttl_ms), Some(300_000));
    assert_eq!(
      cfg.and_then(|c| c.local.as_ref()).map(|l| l.max_entries),
      Some(10_000)
    );
  }

  #[test]
  fn memory_urls_select_the_embedded_backend() {
    let opts = NativeOptions {
      url: Some("memory://shop?maxBytes=4096".into()),
      ..Default::default()
    };
    let want = MemoryUrl {
      name: Some("shop".into()),
      max_bytes: Some(4096),
    };
    assert_eq!(
      with_env(&[], opts).map(|c| c.target),
      Ok(Target::Memory(want))
    );
    let from_env = with_env(&[("REDIS_URL", "memory://")], NativeOptions::default());
    assert_eq!(
      from_env.map(|c| c.target),
      Ok(Target::Memory(MemoryUrl::default()))
    );
    let bad = NativeOptions {
      url: Some("memory://x?maxBytes=lots".into()),
      ..Default::default()
    };
    assert_eq!(
      with_env(&[], bad).err().map(|e| e.kind()),
      Some(Kind::InvalidArgument)
    );
  }

  #[test]
  fn coherence_defaults_to_tracking_and_is_validated() {
    let mode = |value: Option<&str>| {
      with_env(
        &[],
        NativeOptions {
          local_coherence: value.map(str::to_string),
          ..Default::default()
        },
      )
      .map(|c| c.coherence)
      .map_err(|e| (e.kind(), e.message().to_string()))
    };
    assert_eq!(mode(None), Ok(CoherenceMode::Tracking));
    assert_eq!(mode(Some("ttl")), Ok(CoherenceMode::Ttl));
    let err = mode(Some("TTL"))
      .err()
      .unwrap_or((Kind::Redis, String::new()));
    assert_eq!(err.0, Kind::InvalidArgument);
    assert!(err.1.contains("local.coherence"));
  }

  #[test]
  fn local_false_disables_the_tier() {
    let opts = NativeOptions {
      local_enabled: Some(false),
      ..Default::default()
    };
    assert!(with_env(&[], opts)
      .map(|c| c.local.is_none())
      .unwrap_or(false));
  }

  fn target_of(url: &str) -> Result<Target> {
    let opts = NativeOptions {
      url: Some(url.into()),
      ..Default::default()
    };
    with_env(&[], opts).map(|c| c.target)
  }

  #[test]
  fn sentinel_urls_name_the_master_its_credentials_and_db() {
    let want = SentinelTarget {
      name: "mymaster".into(),
      sentinels: vec!["redis://a:26379".into(), "redis://b:26380".into()],
      username: Some("app".into()),
      password: Some("p@ss".into()),
      db: 2,
    };
    assert_eq!(
      target_of("redis+sentinel://app:p%40ss@a:26379,b:26380/mymaster/2"),
      Ok(Target::Sentinel(want))
    );
    for bad in [
      "redis+sentinel://a:26379",
      "redis+sentinel://a:26379/m/-1",
      "redis+sentinel://a:26379/m/x",
      "redis+sentinel://u:%zz@a:26379/m",
    ] {
      assert_eq!(
        target_of(bad).err().map(|e| e.kind()),
        Some(Kind::InvalidArgument),
        "{bad}"
      );
    }
  }

  #[test]
  fn cluster_urls_list_seeds_with_the_shared_credentials() {
    assert_eq!(
      target_of("redis+cluster://:pw@a:7000,b:7001"),
      Ok(Target::Cluster(vec![
        "redis://:pw@a:7000".into(),
        "redis://:pw@b:7001".into()
      ]))
    );
  }

  #[test]
  fn tls_follows_the_scheme_or_the_option() {
    let tls = |url: &str, option: Option<bool>| {
      let opts = NativeOptions {
        url: Some(url.into()),
        tls: option,
        ..Default::default()
      };
      with_env(&[], opts).map(|c| c.tls.is_some())
    };
    assert_eq!(tls("rediss://h:6380", None), Ok(true));
    assert_eq!(tls("rediss+cluster://a:7000", None), Ok(true));
    assert_eq!(tls("rediss+sentinel://a:26379/m", None), Ok(true));
    assert_eq!(tls("redis://h:6379", Some(true)), Ok(true));
    assert_eq!(tls("redis://h:6379", Some(false)), Ok(false));
  }

  #[test]
  fn debug_shows_no_password() {
    let secret = "s3cr3t-pw";
    let sentinel = NativeOptions {
      sentinel_name: Some("m".into()),
      sentinel_nodes: Some(vec![format!("redis://u:{secret}@a:26379")]),
      sentinel_username: Some("app".into()),
      sentinel_password: Some(secret.into()),
      ..Default::default()
    };
    let configs = [
      with_env(
        &[("REDIS_URL", &format!("redis://u:{secret}@h:1"))],
        NativeOptions::default(),
      ),
      with_env(
        &[],
        NativeOptions {
          url: Some(format!("redis+cluster://:{secret}@a:7000,b:7001")),
          ..Default::default()
        },
      ),
      with_env(
        &[],
        NativeOptions {
          url: Some(format!("redis+sentinel://u:{secret}@a:26379/m")),
          ..Default::default()
        },
      ),
      with_env(&[], sentinel),
    ];
    for config in configs {
      let config = config.expect("a valid config");
      for text in [format!("{config:?}"), format!("{:?}", config.target)] {
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
      }
      if let Target::Sentinel(s) = &config.target {
        assert!(!format!("{s:?}").contains(secret));
      }
    }
  }

  #[test]
  fn one_target_at_most() {
    let opts = NativeOptions {
      url: Some("redis://h:6379".into()),
      sentinel_name: Some("m".into()),
      ..Default::default()
    };
    let err = with_env(&[], opts).err();
    assert_eq!(err.map(|e| e.kind()), Some(Kind::InvalidArgument));
  }
}
