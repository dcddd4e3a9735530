//! `memory://`: an embedded, in-process backend with Redis 7's semantics for
//! the commands the library sends, so apps and their tests run without a
//! Redis server.
//!
//! - `memory://` is a store private to the client; `memory://name` is shared
//!   by every client of the process that opens the same name, and freed when
//!   the last of them closes (a registry of weak references).
//! - `?maxBytes=N` bounds the store's estimated size, evicting the least
//!   recently used keys (`allkeys-lru`).
//! - One mutex guards a store; a pipeline runs whole under it, with no await
//!   inside, so MULTI / EXEC and scripts are atomic. Commands take
//!   microseconds, so other clients wait no longer than on a Redis server.
//! - No task, timer or thread: expiry is checked on access and reclaimed a
//!   few keys per command; a blocking pop waits on a `Notify` that pushes wake.
//! - L1 coherence: the clients of a named store whose L1 follows it
//!   (`coherence: 'tracking'`) hear of every key another client of the store
//!   changes, as Redis' `CLIENT TRACKING ... NOLOOP` would tell them; the
//!   store collects changed keys only while such a client is open.
//! - Scripts run as native twins with the same results as their Lua; the
//!   client gives the store the set it runs (`script.rs` says what a twin is;
//!   the library's live next to their Lua, in `features`). EVAL of any other
//!   script is refused. A command this backend lacks gets Redis' "unknown command".

mod args;
mod exec;
mod hashes;
mod keyspace;
mod lists;
pub mod script;
mod server;
mod sets;
mod store;
mod strings;
mod value;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::redis::tracking::{Invalidation, InvalidationSink};
use super::{Args, Backend, BoxFuture, Event, EventSink, Reply};
use crate::clock::{Clock, UnixClock};
use crate::error::{Error, Result};
use script::Scripts;
use store::{Changes, Store};

/// One store, the wake-up of the pops blocked on it, and the clients whose
/// L1 follows its changes.
struct Shared {
  store: Mutex<Store>,
  pushed: Notify,
  /// (backend id, where its invalidations go).
  listeners: Mutex<Vec<(u64, InvalidationSink)>>,
}

impl Shared {
  fn new(clock: Arc<dyn Clock>, options: &Options) -> Self {
    Shared {
      store: Mutex::new(Store::new(clock, options.max_bytes, options.scripts)),
      pushed: Notify::new(),
      listeners: Mutex::new(Vec::new()),
    }
  }

  fn lock(&self) -> MutexGuard<'_, Store> {
    self.store.lock().unwrap_or_else(|e| e.into_inner())
  }

  fn listeners(&self) -> MutexGuard<'_, Vec<(u64, InvalidationSink)>> {
    self.listeners.lock().unwrap_or_else(|e| e.into_inner())
  }

  /// Runs `f` under the lock for the backend `origin`, then wakes blocked
  /// pops if it pushed and tells the other listeners what it changed.
  fn with<R>(&self, origin: u64, f: impl FnOnce(&mut Store) -> R) -> R {
    let (out, pushed, changes) = {
      let mut store = self.lock();
      let out = f(&mut store);
      (out, store.take_pushed(), store.take_changes())
    };
    if pushed {
      self.pushed.notify_waiters();
    }
    if let Some(changes) = changes {
      self.notify(origin, changes);
    }
    out
  }

  fn notify(&self, origin: u64, changes: Changes) {
    let sinks: Vec<InvalidationSink> = self
      .listeners()
      .iter()
      .filter(|(id, _)| *id != origin)
      .map(|(_, sink)| sink.clone())
      .collect();
    let invalidation = if changes.flushed {
      Invalidation::All
    } else {
      Invalidation::Keys(changes.keys)
    };
    for sink in sinks {
      sink(invalidation.clone());
    }
  }

  fn listen(&self, id: u64, sink: InvalidationSink) {
    self.listeners().push((id, sink));
    self.lock().collect_changes(true);
  }

  fn unlisten(&self, id: u64) {
    let mut listeners = self.listeners();
    listeners.retain(|(other, _)| *other != id);
    if listeners.is_empty() {
      self.lock().collect_changes(false);
    }
  }
}

/// Ids of the backends, to tell a client's own writes from the others'.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Named stores of the process. A name's store lives while a client holds it.
static NAMED: Mutex<Vec<(String, Weak<Shared>)>> = Mutex::new(Vec::new());

fn named() -> MutexGuard<'static, Vec<(String, Weak<Shared>)>> {
  NAMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a client opens: a store, private or shared by name, and what it runs.
pub struct Options {
  /// `None`: a store of this client alone; `Some`: the store of that name,
  /// shared by the clients of the process that open it.
  pub name: Option<String>,
  /// Bound on the store's estimated size; `None`: unbounded.
  pub max_bytes: Option<usize>,
  /// The scripts EVAL / EVALSHA run.
  pub scripts: &'static dyn Scripts,
}

/// The store `options` names, created when no client holds it. The first
/// client to create a named store sets its bound and scripts.
fn open_store(options: &Options, clock: Arc<dyn Clock>) -> Arc<Shared> {
  let fresh = || Arc::new(Shared::new(clock, options));
  let Some(name) = &options.name else {
    return fresh();
  };
  let mut stores = named();
  stores.retain(|(_, store)| store.strong_count() > 0);
  let existing = stores
    .iter()
    .find_map(|(n, store)| (n == name).then(|| store.upgrade()).flatten());
  existing.unwrap_or_else(|| {
    let store = fresh();
    stores.push((name.clone(), Arc::downgrade(&store)));
    store
  })
}

pub struct MemoryBackend {
  id: u64,
  /// Taken by `close`, which frees a private store at once.
  shared: Mutex<Option<Arc<Shared>>>,
  closed: watch::Sender<bool>,
}

impl MemoryBackend {
  /// Opens (or joins) the store; ready at once. With `tracking`, the L1 of
  /// this client hears of the changes other clients of a named store make
  /// (a private store has no other client).
  pub fn open(options: &Options, events: EventSink, tracking: Option<InvalidationSink>) -> Self {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let shared = open_store(options, Arc::new(UnixClock::new()));
    if let (Some(sink), Some(_)) = (tracking, &options.name) {
      shared.listen(id, sink);
    }
    let backend = MemoryBackend {
      id,
      shared: Mutex::new(Some(shared)),
      closed: watch::channel(false).0,
    };
    events(Event::Ready);
    backend
  }

  fn shared(&self) -> Result<Arc<Shared>> {
    self
      .shared
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .clone()
      .ok_or_else(Error::closed)
  }

  /// Repeats a blocking command until it gets an element, `wait` passes
  /// (nil, as Redis answers a timeout) or the client closes.
  async fn block(&self, shared: Arc<Shared>, args: Args, wait: Duration) -> Result<Reply> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut closed = self.closed.subscribe();
    loop {
      // Registered before trying, so a push between the try and the wait is not missed.
      let pushed = shared.pushed.notified();
      tokio::pin!(pushed);
      pushed.as_mut().enable();
      let reply = shared.with(self.id, |st| {
        st.tick();
        let reply = exec::run_one(st, &args);
        st.enforce_bound();
        reply
      })?;
      if reply != Reply::Nil {
        return Ok(reply);
      }
      tokio::select! {
        _ = pushed => {}
        _ = tokio::time::sleep_until(deadline) => return Ok(Reply::Nil),
        _ = closed.wait_for(|c| *c) => return Err(Error::closed()),
      }
    }
  }
}

impl MemoryBackend {
  /// Runs a pipeline under the store lock: microseconds, never a wait.
  fn run(&self, cmds: &[Args]) -> Vec<Result<Reply>> {
    match self.shared() {
      Ok(shared) => shared.with(self.id, |st| exec::run_pipeline(st, cmds)),
      Err(err) => vec![Err(err); cmds.len()],
    }
  }
}

impl Backend for MemoryBackend {
  fn name(&self) -> &'static str {
    "memory"
  }

  fn first_connect(&self) -> BoxFuture<'_, Result<()>> {
    Box::pin(async { Ok(()) })
  }

  fn exec(&self, cmds: Vec<Args>) -> BoxFuture<'_, Vec<Result<Reply>>> {
    Box::pin(async move { self.run(&cmds) })
  }

  fn exec_now(&self, cmds: &[Args]) -> Option<Vec<Result<Reply>>> {
    Some(self.run(cmds))
  }

  fn delete_matching(&self, pattern: Vec<u8>, batch: usize) -> BoxFuture<'_, Result<u64>> {
    Box::pin(async move {
      let shared = self.shared()?;
      let (mut cursor, mut deleted) = (0, 0u64);
      loop {
        let next = shared.with(self.id, |st| {
          st.tick();
          let (next, keys) = st.scan(cursor, batch.max(1), |key, _| {
            crate::glob::matches(&pattern, key)
          });
          deleted += keys.iter().filter(|key| st.delete(key)).count() as u64;
          next
        });
        if next == 0 {
          return Ok(deleted);
        }
        cursor = next;
        // Let other clients of a shared store in between batches.
        tokio::task::yield_now().await;
      }
    })
  }

  fn exec_blocking(&self, args: Args, wait: Duration) -> BoxFuture<'_, Result<Reply>> {
    Box::pin(async move {
      let shared = self.shared()?;
      if exec::is_blocking(&args) {
        self.block(shared, args, wait).await
      } else {
        shared
          .with(self.id, |st| exec::run_pipeline(st, &[args]))
          .pop()
          .unwrap_or_else(|| Err(Error::invalid("empty command")))
      }
    })
  }

  /// Wakes blocked pops with ERR_CLOSED and lets go of the store: a private
  /// one is freed now, a named one with its last client.
  fn close(&self) {
    self.closed.send_replace(true);
    let store = self.shared.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(store) = &store {
      store.unlisten(self.id);
    }
    drop(store);
    named().retain(|(_, store)| store.strong_count() > 0);
  }
}
