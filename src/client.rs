//! The client core: one backend, the bridge to JS, the cache and counters.
//!
//! Every request carries an id chosen by JS; its outcome comes back through
//! the bridge under that id. Nothing here blocks the JS thread.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::args;
use crate::backend::cluster::ClusterBackend;
use crate::backend::memory::{self, MemoryBackend};
use crate::backend::redis::pipe::Pipe;
use crate::backend::redis::tracking::Tracking;
use crate::backend::redis::{self, RedisBackend};
use crate::backend::{exec_one, Args, Backend, Decode, Done, Event, EventSink, Reply};
use crate::bridge::{Bridge, Wake};
use crate::cache::coherence::Coherence;
use crate::cache::invalidate;
use crate::cache::Cache;
use crate::config::{CoherenceMode, Config, Target};
use crate::error::{Error, Result};
use crate::features::scripts::LibraryScripts;
use crate::metrics::Counters;
use crate::{info, resp};

pub struct ClientCore {
  pub config: Config,
  pub backend: Arc<dyn Backend>,
  pub bridge: Arc<Bridge>,
  pub cache: Arc<Cache>,
  pub coherence: Arc<Coherence>,
  pub counters: Arc<Counters>,
  closed: AtomicBool,
}

impl ClientCore {
  pub fn new(config: Config, wake: Wake) -> Result<Self> {
    let counters = Arc::new(Counters::default());
    let bridge = Arc::new(Bridge::new(wake, counters.clone()));
    let cache = Arc::new(Cache::new(config.local.clone()));
    let coherence = Arc::new(Coherence::new(
      cache.clone(),
      bridge.clone(),
      config.key_prefix.clone(),
    ));
    let events = event_sink(bridge.clone(), counters.clone(), coherence.clone());
    // Without an L1 there is nothing to keep coherent.
    let tracking =
      (config.local.is_some() && config.coherence == CoherenceMode::Tracking).then(|| Tracking {
        prefix: config.key_prefix.clone().into_bytes(),
        sink: coherence.sink(),
      });
    let backend: Arc<dyn Backend> = match &config.target {
      Target::Redis(url) => Arc::new(RedisBackend::start(
        url,
        server_options(&config, &bridge, events, tracking),
      )?),
      Target::Sentinel(target) => Arc::new(RedisBackend::sentinel(
        target,
        server_options(&config, &bridge, events, tracking),
      )?),
      Target::Cluster(seeds) => Arc::new(ClusterBackend::start(
        seeds,
        config.tls.as_ref(),
        config.connect_timeout,
        config.command_timeout,
        events,
        tracking,
      )?),
      Target::Memory(url) => {
        // memory:// runs the library's scripts by their native twins.
        let options = memory::Options {
          name: url.name.clone(),
          max_bytes: url.max_bytes,
          scripts: &LibraryScripts,
        };
        Arc::new(MemoryBackend::open(
          &options,
          events,
          tracking.map(|t| t.sink),
        ))
      }
    };
    Ok(ClientCore {
      config,
      backend,
      bridge,
      cache,
      coherence,
      counters,
      closed: AtomicBool::new(false),
    })
  }

  fn is_closed(&self) -> bool {
    self.closed.load(Ordering::Acquire)
  }

  /// Runs `work` on tokio and completes request `id` with its outcome.
  pub(crate) fn spawn<F>(&self, id: u32, decode: Decode, work: F)
  where
    F: Future<Output = Result<Reply>> + Send + 'static,
  {
    if self.is_closed() {
      self.bridge.started(1);
      self.bridge.complete([Done::Err(id, Error::closed())]);
      return;
    }
    self.bridge.started(1);
    let bridge = self.bridge.clone();
    napi::bindgen_prelude::spawn(async move {
      let done = match work.await {
        Ok(reply) => Done::Ok(id, reply, decode),
        Err(err) => Done::Err(id, err),
      };
      bridge.complete([done]);
    });
  }

  /// Resolves when the first connection attempt has ended; rejects only with `failFast`.
  pub fn connect(&self, id: u32) {
    let backend = self.backend.clone();
    let fail_fast = self.config.fail_fast;
    self.spawn(id, Decode::Text, async move {
      match backend.first_connect().await {
        Err(err) if fail_fast => Err(err),
        _ => Ok(Reply::Nil),
      }
    });
  }

  /// Sends one microtask's commands (RESP-encoded by JS) as one pipeline:
  /// straight onto the live connection when there is one, else through the
  /// backend's `exec` on tokio (the memory backend; or no connection, where
  /// every command fails at once).
  /// Sends a JS batch; returns the connection it went to, if it went
  /// straight to one.
  pub fn submit(&self, payload: Vec<u8>, ids: Vec<u32>, decodes: Vec<Decode>) -> Option<Arc<Pipe>> {
    let n = ids.len();
    self.bridge.started(n);
    if self.is_closed() {
      self
        .bridge
        .complete(ids.into_iter().map(|id| Done::Err(id, Error::closed())));
      return None;
    }
    self.counters.sent(n);
    if let Some(pipe) = self.backend.pipe() {
      if let Err(err) = pipe.send_js(&payload, ids.clone(), decodes) {
        self
          .bridge
          .complete(ids.into_iter().map(|id| Done::Err(id, err.clone())));
      }
      return Some(pipe);
    }
    let cmds = match resp::decode_requests(&payload) {
      Ok(cmds) if cmds.len() == n => cmds,
      _ => {
        let err = Error::invalid("malformed command batch");
        self
          .bridge
          .complete(ids.into_iter().map(|id| Done::Err(id, err.clone())));
        return None;
      }
    };
    if let Some(results) = self.backend.exec_now(&cmds) {
      self.bridge.complete(completions(ids, decodes, results));
      return None;
    }
    let backend = self.backend.clone();
    let bridge = self.bridge.clone();
    napi::bindgen_prelude::spawn(async move {
      let results = backend.exec(cmds).await;
      bridge.complete(completions(ids, decodes, results));
    });
    None
  }

  pub fn invalidate(&self, id: u32, pattern: String) {
    let (backend, coherence, prefix) = self.parts();
    self.spawn(id, Decode::Text, async move {
      let n = invalidate::by_pattern(&*backend, &coherence, &prefix, &pattern).await?;
      Ok(Reply::Int(n as i64))
    });
  }

  pub fn invalidate_tags(&self, id: u32, tags: Vec<String>) {
    let (backend, coherence, prefix) = self.parts();
    self.spawn(id, Decode::Text, async move {
      let n = invalidate::by_tags(&*backend, &coherence, &prefix, &tags).await?;
      Ok(Reply::Int(n as i64))
    });
  }

  /// Round trip of a PING in milliseconds.
  pub fn ping(&self, id: u32) {
    let backend = self.backend.clone();
    self.spawn(id, Decode::Text, async move {
      let start = Instant::now();
      exec_one(&*backend, args![b"PING"]).await?;
      Ok(Reply::Double(start.elapsed().as_secs_f64() * 1000.0))
    });
  }

  /// INFO, summarized as JSON text.
  pub fn server_info(&self, id: u32) {
    let backend = self.backend.clone();
    self.spawn(id, Decode::Text, async move {
      let reply = exec_one(&*backend, args![b"INFO"]).await?;
      let text = match reply {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
      };
      Ok(Reply::Bulk(info::summarize(&text).into_bytes()))
    });
  }

  /// One blocking command (BLMOVE, BLPOP, XREAD ... BLOCK ...) on a
  /// connection of its own, so it never delays the commands every other
  /// caller shares the main connection with. `wait` is how long the server
  /// may hold it (`Backend::exec_blocking`).
  pub fn blocking(&self, id: u32, cmd: Args, wait: Duration) {
    let backend = self.backend.clone();
    let counters = self.counters.clone();
    self.spawn(id, Decode::Text, async move {
      counters.sent(1);
      backend.exec_blocking(cmd, wait).await
    });
  }

  /// Ends the backend's tasks and sockets and releases the bridge.
  pub fn close(&self) {
    if self.closed.swap(true, Ordering::AcqRel) {
      return;
    }
    self.backend.close();
    self.cache.local_clear();
    self.bridge.close();
  }

  fn parts(&self) -> (Arc<dyn Backend>, Arc<Coherence>, String) {
    (
      self.backend.clone(),
      self.coherence.clone(),
      self.config.key_prefix.clone(),
    )
  }
}

fn completions(
  ids: Vec<u32>,
  decodes: Vec<Decode>,
  results: Vec<Result<Reply>>,
) -> impl Iterator<Item = Done> {
  ids
    .into_iter()
    .zip(decodes)
    .zip(results)
    .map(|((id, decode), result)| match result {
      Ok(reply) => Done::Ok(id, reply, decode),
      Err(err) => Done::Err(id, err),
    })
}

/// What a server backend (single server or Sentinel) takes from the config.
fn server_options(
  config: &Config,
  bridge: &Arc<Bridge>,
  events: EventSink,
  tracking: Option<Tracking>,
) -> redis::Options {
  redis::Options {
    tls: config.tls.clone(),
    connect_timeout: config.connect_timeout,
    command_timeout: config.command_timeout,
    completions: bridge.clone(),
    events,
    tracking,
  }
}

/// Forwards backend events to JS and counts reconnections (every `Ready`
/// after the first). A reconnection flushes the L1: writes made while this
/// client was cut off never evicted its copies (JS drops its own on 'ready').
fn event_sink(
  bridge: Arc<Bridge>,
  counters: Arc<Counters>,
  coherence: Arc<Coherence>,
) -> EventSink {
  let seen_ready = AtomicBool::new(false);
  Arc::new(move |event: Event| {
    if event == Event::Ready && seen_ready.swap(true, Ordering::AcqRel) {
      counters.reconnected();
      coherence.flush();
    }
    bridge.complete([Done::Event(event)]);
  })
}
