'use strict'
// Tiered cache-aside. Order of a read, after bentocache's two-tier handler:
// L1 (synchronous), then the single-flight of this process, then Redis, then
// the loader. Rust owns the L1's bookkeeping (bounds, eviction, TTL, tags,
// invalidation) and journals every key that leaves it; this side keeps each
// entry's parsed value with the expiry Rust decided, drops the copies Rust
// journals, and reports hits in batches. So a hit is a Map lookup and a clock
// read: no native call, no parse.

const { FerroError, invalid } = require('./errors')
const { constant } = require('./native')
const { durationMs, cachePolicy, CACHE_POLICY_DEFAULTS, checkKey, serialize, deserialize, byteLength, describe } = require('./values')

/** The events `cacheRecord` counts, as src/cache/mod.rs numbers them. */
const EVENT = {
  REMOTE_HIT: constant('CACHE_REMOTE_HIT'),
  MISS: constant('CACHE_MISS'),
  LOAD: constant('CACHE_LOAD'),
  ERROR: constant('CACHE_ERROR'),
}
/** What a loader race ends with when its time limit came first. */
const OVERRUN = Symbol('overrun')
/**
 * One hit in TOUCH_SAMPLE refreshes its entry's LRU recency in Rust (an approximated LRU, as
 * Redis' own): handing every hit's key across cost more than the hit itself. Sampled keys cross in
 * batches of TOUCH_BATCH, with the count of all hits since the last report.
 */
const TOUCH_SAMPLE = 16
const TOUCH_BATCH = 64
const now = () => performance.now()

/**
 * The `cache` option of createClient: defaults of every getOrSet / set, checked before the client
 * connects. Returns them with their defaults filled in.
 */
function cacheDefaults(cache) {
  if (cache === undefined) return CACHE_POLICY_DEFAULTS
  if (cache === null || typeof cache !== 'object' || Array.isArray(cache)) throw invalid(`cache must be an object, got ${describe(cache)}`)
  return cachePolicy(cache, CACHE_POLICY_DEFAULTS, 'cache.')
}

class Cache {
  /** `defaults`: what cacheDefaults() returned for the client's `cache` option. */
  constructor(client, defaults = cacheDefaults(undefined)) {
    this._client = client
    this._policy = defaults
    this._native = client._native
    this._useLocal = this._native.localEnabled()
    this._defaultTtlMs = this._native.defaultTtlMs()
    /**
     * key -> { value, exp, fresh, bytes } for entries Rust holds in L1 (performance.now()
     * deadlines: `exp` when Rust lets go of it, `fresh` when it turns stale; equal without grace).
     */
    this._local = new Map()
    /** Sampled keys of the hits served since the last report to Rust. */
    this._touched = []
    /** Hits served by this side, and how many of them Rust has been told of. */
    this._hits = 0
    this._reported = 0
    /** key -> promise of the loader run in progress (single-flight). */
    this._inflight = new Map()
    /** Background writes of misses not yet ended (close() waits for them). */
    this._writing = new Set()
    /**
     * The own-write fence (`evict`): this client's writes, numbered; key -> how many reads or
     * writes of it whose value may enter the L1 are in flight; key -> number of the latest write
     * of it while some were (so both maps hold only keys in flight); reads that started before
     * `_writeFloor` are refused (the L1 was emptied since).
     */
    this._writes = 0
    this._writeFloor = 0
    this._pending = new Map()
    this._written = new Map()
    /** Stale values served (grace), for stats().staleServed. Kept here: only this side serves them. */
    this._staleServed = 0
  }

  getOrSet(key, loader, opts) {
    // Not `async`, and the commonest call (no options) checks L1 before anything else: a hit
    // costs a Map lookup, a clock read and a promise resolved once per entry.
    if (opts === undefined && this._useLocal && typeof loader === 'function' && !this._client._closed) {
      const e = this._local.get(key)
      if (e !== undefined && e.fresh > performance.now()) {
        this._hit(key)
        return e.p || (e.p = Promise.resolve(e.value))
      }
    }
    let o
    try {
      this._client._open()
      checkKey(key)
      if (typeof loader !== 'function') throw invalid(`loader must be a function, got ${describe(loader)}`)
      o = this._options(opts)
    } catch (err) {
      return Promise.reject(err)
    }
    // A stale L1 entry (within its grace) is not served as is: it is the fallback of a load.
    let stale
    if (o.local) {
      const e = this._local.get(key)
      if (e !== undefined) {
        const t = now()
        if (e.fresh > t) {
          this._hit(key)
          return e.p || (e.p = Promise.resolve(e.value))
        }
        if (e.exp > t) stale = e
      }
    }
    // Another caller of this process is already loading this key: share its result.
    let p = this._inflight.get(key)
    if (p === undefined) {
      const flight = { write: undefined }
      p = this._fill(key, loader, o, flight, stale)
      this._inflight.set(key, p)
      const done = () => {
        if (this._inflight.get(key) === p) this._inflight.delete(key)
      }
      // The key stays in flight until its background write has ended: a caller arriving meanwhile
      // that L1 cannot serve (local: false, an entry L1 refused) shares the value instead of
      // running the loader again while Redis may not have it yet.
      p.then(() => (flight.write === undefined ? done() : flight.write.then(done)), done)
    }
    return p
  }

  /**
   * Redis, then the loader. Write-behind: the value is returned as soon as the loader has it;
   * the write (L1 at once, then SET and tags) goes on in the background as `flight.write`, which
   * never rejects (see `_behind`).
   *
   * `local`: the L1 entry past its ttl but within its grace, if any; Redis may hold a stale value
   * too. With one, the loader is raced against the soft `timeout` (else `hardTimeout`): when it
   * overruns, the stale value is served and the loader refreshes the entry in the background;
   * when it throws, or Redis is unreachable, the stale value is served and kept `graceBackoff`
   * longer. Without one, a loader overrunning `hardTimeout` rejects its callers with
   * ERR_LOADER_TIMEOUT and still fills the cache when it ends.
   */
  async _fill(key, loader, o, flight, local) {
    // Read before anything: a write or deletion of the key from here on refuses the stale value.
    const sinceWrites = this._writes
    this._begin(key)
    try {
      const remote = await this._remote(key, o)
      if (remote.hit) return remote.value
      let stale = this._staleUsable(key, sinceWrites, local) ? remote.stale || local : undefined
      if (stale !== undefined && remote.failed) return this._serveStale(key, stale, o, remote, true)
      this._native.cacheRecord(EVENT.LOAD)
      const job = { write: undefined }
      // Over a stale L1 copy the value is stored in L1 after its reply, as by `set`: evicting the
      // copy is a change of the key since the read, which refuses a store at send.
      const load = this._load(key, loader, o, remote, job, local === undefined ? remote.since : undefined)
      const limitMs = stale === undefined || o.timeoutMs === undefined ? o.hardTimeoutMs : o.timeoutMs
      if (limitMs === undefined && stale === undefined) {
        const value = await load
        flight.write = job.write
        return value
      }
      const settled = load.then((value) => ({ value }), (err) => ({ failed: true, err }))
      const r = limitMs === undefined ? await settled : await race(settled, limitMs)
      // Whatever happened meanwhile (a deletion, a rewrite) may refuse the stale value.
      if (!this._staleUsable(key, sinceWrites, local)) stale = undefined
      if (r === OVERRUN) {
        // The loader goes on: its value fills the cache, its failure is reported (never thrown).
        flight.write = settled.then((late) => (late.failed ? this._loaderFailed(key, late.err, o) : job.write))
        if (stale !== undefined) return this._serveStale(key, stale, o, remote, false)
        throw new FerroError('ERR_LOADER_TIMEOUT', `the loader of ${JSON.stringify(key)} did not answer within ${limitMs} ms (it goes on and fills the cache when it ends)`)
      }
      if (!r.failed) {
        flight.write = job.write
        return r.value
      }
      if (stale === undefined) throw r.err
      this._loaderFailed(key, r.err, o)
      return this._serveStale(key, stale, o, remote, true)
    } finally {
      this._end(key)
    }
  }

  /** The loader, then the background write of its value (as `job.write`; `readSince`: see `_write`). */
  async _load(key, loader, o, remote, job, readSince) {
    const value = await loader()
    if (value === undefined) throw invalid(`the loader of ${JSON.stringify(key)} returned undefined (return null to cache an empty value)`)
    const payload = serialize(value)
    // Redis failed on the read, or close() has begun: serve the loader's value without writing.
    if (!remote.failed && !this._client._closed) job.write = this._behind(this._write(key, payload, value, o, readSince))
    return value
  }

  /**
   * A stale value read at `sinceWrites` (and the L1 entry `local`, if any) may still be served:
   * this client has not written or deleted the key since, the L1 was not emptied, and Rust has not
   * let go of the entry (an invalidation from elsewhere). A deleted value is never served.
   */
  _staleUsable(key, sinceWrites, local) {
    if (sinceWrites < this._writeFloor || (this._written.get(key) || 0) > sinceWrites) return false
    if (local === undefined) return true
    this._syncRemoved()
    return this._local.get(key) === local
  }

  /**
   * Serves a stale value (counted in stats().staleServed). `backoff` (the loader failed, or Redis
   * is unreachable): the entry is fresh again for `graceBackoff`, in L1 and in Redis (PEXPIRE GT:
   * never shortens, and does nothing to a key deleted meanwhile), so the failing loader is not
   * called on every request; it is stale for `grace` after that.
   */
  _serveStale(key, stale, o, remote, backoff) {
    this._staleServed++
    if (backoff) {
      const lifeMs = o.graceBackoffMs + o.graceMs
      if (o.local) this._localStore(key, stale.value, stale.bytes, lifeMs, [], this._native.localEpoch(), this._writes, o.graceBackoffMs)
      const c = this._client
      if (!remote.failed && !c._closed) this._behind(c._cmd(['PEXPIRE', c._prefix + key, String(lifeMs), 'GT']))
    }
    return stale.value
  }

  /**
   * A loader failure no caller receives (a stale value was served instead, or its callers were
   * answered by a timeout): counted in stats().errors, handed to `onLoaderError` as thrown, else
   * emitted as 'error' (a FerroError ERR_LOADER_FAILED, the loader's error as its `cause`, as
   * 'error' listeners get FerroErrors only). Never thrown: a throwing `onLoaderError` is emitted
   * the same way.
   */
  _loaderFailed(key, err, o) {
    this._native.cacheRecord(EVENT.ERROR)
    try {
      if (o.onLoaderError === undefined) throw err
      o.onLoaderError(err, key)
    } catch (thrown) {
      const e = new FerroError('ERR_LOADER_FAILED', `the loader of ${JSON.stringify(key)} failed in the background: ${thrown?.message ?? thrown}`)
      e.cause = thrown
      this._client._emitError(e)
    }
  }

  /**
   * Tracks a background write until it ends. Its commands left in `_write`'s first tick, so they
   * are requests of the transport (each settles within the command timeout); its failure is
   * counted in stats().errors and emitted as 'error', never left as an unhandled rejection.
   */
  _behind(write) {
    const w = write.then(undefined, (err) => {
      this._native.cacheRecord(EVENT.ERROR)
      this._client._emitError(err)
    })
    this._writing.add(w)
    w.then(() => this._writing.delete(w))
    return w
  }

  /**
   * Resolves when the background writes begun so far have ended (stored, or their failure
   * reported); never rejects. close() waits for this before the native client goes:
   * `transport.idle()` alone covers the commands, not what a write does after its replies.
   */
  drained() {
    return this._writing.size === 0 ? Promise.resolve() : Promise.all(this._writing)
  }

  /** Redis read of a key (value and remaining TTL in one round trip), filling L1 on a hit. */
  async _remote(key, o) {
    const t = this._client._transport
    const full = this._client._prefix + key
    // Read before the GET leaves: an invalidation applied meanwhile refuses the L1 entry.
    const since = this._native.localEpoch()
    const sinceWrites = this._writes
    this._begin(key)
    try {
      const [raw, pttl] = await Promise.all([t.command(['GET', full]), t.command(['PTTL', full])])
      if (raw === null) {
        this._native.cacheRecord(EVENT.MISS)
        return { hit: false, failed: false, since }
      }
      const value = deserialize(raw)
      // Grace: an entry is stale for the last `grace` of its life (written with PX ttl + grace),
      // which every process reads alike from its PTTL.
      if (o.graceMs > 0 && pttl >= 0 && pttl <= o.graceMs) {
        this._native.cacheRecord(EVENT.MISS)
        return { hit: false, failed: false, since, stale: { value, bytes: byteLength(raw) } }
      }
      this._native.cacheRecord(EVENT.REMOTE_HIT)
      // PTTL -1: no Redis expiry, the L1 ttl alone bounds the copy; -2: deleted meanwhile.
      if (o.local && pttl !== -2) {
        const lifeMs = pttl > 0 ? Math.min(pttl, o.localTtlMs) : o.localTtlMs
        this._localStore(key, value, byteLength(raw), lifeMs, [], since, sinceWrites, pttl > 0 ? Math.min(pttl - o.graceMs, o.localTtlMs) : o.localTtlMs)
      }
      return { hit: true, value }
    } catch {
      this._native.cacheRecord(EVENT.ERROR)
      this._native.cacheRecord(EVENT.MISS)
      return { hit: false, failed: true }
    } finally {
      this._end(key)
    }
  }

  /** A read or write of `key` whose value may enter the L1 is in flight (see `evict`). */
  _begin(key) {
    this._pending.set(key, (this._pending.get(key) || 0) + 1)
  }

  _end(key) {
    const n = this._pending.get(key) - 1
    if (n > 0) this._pending.set(key, n)
    else {
      this._pending.delete(key)
      this._written.delete(key)
    }
  }

  /**
   * SET (and tags), then L1. `readSince` is given for a miss's background write (write-behind):
   * the localEpoch() read before its GET left. L1 then takes the value as the write leaves, so a
   * caller of the key hits it at once, unless the key changed elsewhere or L1 was flushed (a lost
   * connection) since that read. This client's later reads of the key are sent after the write,
   * so they see it; a write from elsewhere evicts the copy when its invalidation arrives; a failed
   * write evicts it again. `cache.set` stores after the reply: it waits anyway, and its L1 never
   * serves what it failed to write.
   */
  async _write(key, payload, value, o, readSince) {
    const behind = readSince !== undefined
    this.evict([key])
    const c = this._client
    const full = c._prefix + key
    // Jitter: each entry's own TTL, uniform in ttl ± jitter × ttl, so keys written together
    // expire apart. Grace: the entry lives `grace` longer, stale.
    const ttlMs = o.jitter === 0 ? o.ttlMs : Math.max(1, Math.round(o.ttlMs * (1 + o.jitter * (2 * Math.random() - 1))))
    const ttl = String(ttlMs + o.graceMs)
    const since = behind ? readSince : this._native.localEpoch()
    const sinceWrites = this._writes
    const writes = [c._cmd(['SET', full, payload, 'PX', ttl])]
    // Tag sets (read by src/invalidate.rs): PEXPIRE NX gives a new set its first TTL, GT
    // stretches an older one to its longest-lived member (GT alone never sets a first TTL).
    for (const tag of o.tags) {
      const set = c._prefix + 'tag:' + tag
      writes.push(c._cmd(['SADD', set, full]), c._cmd(['PEXPIRE', set, ttl, 'NX']), c._cmd(['PEXPIRE', set, ttl, 'GT']))
    }
    const store = () => o.local && this._localStore(key, value, byteLength(payload), Math.min(ttlMs + o.graceMs, o.localTtlMs), o.tags, since, sinceWrites, Math.min(ttlMs, o.localTtlMs))
    if (behind) store()
    // In flight until stored: a write of this key meanwhile must fence this store (see `evict`).
    this._begin(key)
    try {
      await (writes.length === 1 ? writes[0] : Promise.all(writes))
      if (!behind) store()
    } catch (err) {
      if (behind) this.evict([key])
      throw err
    } finally {
      this._end(key)
    }
  }

  _hit(key) {
    if (++this._hits % TOUCH_SAMPLE === 0 && this._touched.push(key) >= TOUCH_BATCH) this._report()
  }

  /** Hands the hits served since the last report to Rust (recency and counters). */
  _report() {
    const hits = this._hits - this._reported
    if (hits === 0) return
    this._native.localTouch(this._touched, hits)
    this._touched = []
    this._reported = this._hits
  }

  /**
   * `since`: localEpoch() read before the value was read or written (src/cache/coherence.rs:
   * changes reported off the JS thread, and pattern or tag invalidations); `sinceWrites`: this
   * client's write count then (`evict`). A key changed since either is not stored. Synced after
   * the copy is set, so a removal made off the JS thread meanwhile is never lost. `freshMs`: how
   * long of its `ttlMs` the entry is fresh (grace: the rest is stale).
   */
  _localStore(key, value, bytes, ttlMs, tags, since, sinceWrites, freshMs) {
    if (sinceWrites < this._writeFloor || (this._written.get(key) || 0) > sinceWrites) return
    this._syncRemoved()
    const t0 = now()
    const ttl = this._native.localInsert(key, bytes, ttlMs, tags, since)
    if (ttl === null) this._local.delete(key)
    else this._local.set(key, { value, exp: t0 + ttl, fresh: t0 + Math.min(ttl, freshMs), bytes, p: undefined })
    this._syncRemoved()
  }

  /** Drops the parsed copies of keys Rust removed from L1. */
  _syncRemoved() {
    const removed = this._native.localTakeRemoved()
    if (removed === null) this._local.clear()
    else for (const k of removed) this._local.delete(k)
  }

  /**
   * Called by every write path of the client before its command leaves. Drops the L1 copies, and
   * fences the reads of these keys already in flight: their replies are older than this write and
   * must not be stored when they arrive. The server never reports a client's own writes back
   * (NOLOOP, the memory store's own-write filter), and this side sees every one of them, so the
   * fence is kept here, on the JS thread, without a native call unless Rust holds a copy.
   */
  evict(keys) {
    // Without L1 only the fence matters, and only while a getOrSet may serve a stale value.
    if (!this._useLocal && this._pending.size === 0) return
    const n = ++this._writes
    let any = false
    for (const k of keys) {
      // Only a key with a read in flight needs remembering: a read that starts later sees the write.
      if (this._pending.has(k)) this._written.set(k, n)
      if (this._local.delete(k)) any = true
    }
    if (any) this._native.localRemove(keys)
  }

  /** Empties the L1 and fences every read in flight (`command()` emptied the database). */
  _flushLocal() {
    if (!this._useLocal) return
    this._written.clear()
    this._writeFloor = ++this._writes
    this._native.localFlush()
    this._syncRemoved()
  }

  async get(key) {
    this._client._open()
    checkKey(key)
    const o = this._options(undefined)
    if (o.local) {
      const e = this._local.get(key)
      if (e !== undefined && e.fresh > now()) {
        this._hit(key)
        return e.value
      }
    }
    const remote = await this._remote(key, o)
    return remote.hit ? remote.value : null
  }

  async set(key, value, opts) {
    this._client._open()
    checkKey(key)
    const o = this._options(opts)
    const payload = serialize(value)
    await this._write(key, payload, value, o)
  }

  async delete(keys) {
    return this._client.del(keys)
  }

  /**
   * Waits first for the background writes begun so far (write-behind): the server work runs on
   * connections of its own (on Cluster, not ordered after this client's batches), and an
   * invalidation issued after a caller had its value must cover that value's write.
   */
  async invalidate(pattern) {
    this._client._open()
    checkKey(pattern, 'pattern')
    await this.drained()
    try {
      return await this._client._transport.op((id) => this._native.invalidate(id, pattern))
    } finally {
      this._syncRemoved()
    }
  }

  /** As `invalidate`, after the background writes begun so far. */
  async invalidateTags(tags) {
    this._client._open()
    checkTags(tags)
    await this.drained()
    try {
      return await this._client._transport.op((id) => this._native.invalidateTags(id, tags))
    } finally {
      this._syncRemoved()
    }
  }

  peek(key) {
    checkKey(key)
    const e = this._local.get(key)
    return e !== undefined && e.fresh > now() ? e.value : undefined
  }

  stats() {
    this._report()
    return this._statsOf(this._native.stats())
  }

  /** The cache's part of the native counters (`client.stats()` reads them once for both). */
  _statsOf(s) {
    return {
      hits: s.hits,
      misses: s.misses,
      localHits: s.localHits,
      remoteHits: s.remoteHits,
      loads: s.loads,
      errors: s.cacheErrors,
      staleServed: this._staleServed,
      hitRate: s.hitRate,
      local: { entries: s.localEntries, bytes: s.localBytes, evictions: s.localEvictions },
    }
  }

  _options(opts) {
    if (opts === undefined || opts === null) {
      return this._defaults || (this._defaults = { ttlMs: this._defaultTtlMs, localTtlMs: Infinity, tags: [], local: this._useLocal, ...this._policy })
    }
    if (typeof opts !== 'object') throw invalid(`options must be an object, got ${describe(opts)}`)
    const ttlMs = opts.ttl === undefined ? this._defaultTtlMs : durationMs('ttl', opts.ttl)
    return {
      ttlMs,
      localTtlMs: opts.localTtl === undefined ? Infinity : durationMs('localTtl', opts.localTtl),
      tags: opts.tags === undefined ? [] : checkTags(opts.tags),
      local: this._useLocal && opts.local !== false,
      ...cachePolicy(opts, this._policy, ''),
    }
  }
}

/** `settled` if it settles within `ms`, else OVERRUN (at once for 0). */
function race(settled, ms) {
  if (ms === 0) return OVERRUN
  let timer
  const overrun = new Promise((resolve) => {
    timer = setTimeout(resolve, ms, OVERRUN)
  })
  return Promise.race([settled, overrun]).finally(() => clearTimeout(timer))
}

function checkTags(tags) {
  if (!Array.isArray(tags)) throw invalid(`tags must be an array of strings, got ${describe(tags)}`)
  tags.forEach((t, i) => checkKey(t, `tags[${i}]`))
  return tags
}

module.exports = { Cache, cacheDefaults }
