'use strict'
// Rate limiting (`client.rateLimiter(...)`). Each algorithm is one Lua script
// (src/features/ratelimit/ratelimit_*.lua): one round trip per call, atomic on
// the server, on the server's clock, batched with the client's other commands.
// The native side checks a limiter's options (its algorithm, the 2^50 bound)
// and names its script: the algorithm and script names live in Rust only. The
// commonest call, a fixed-window consume of cost 1, skips the script: see
// `_countOne`. Each id is one key, `<keyPrefix>ratelimit:{<name>:<id>}` (a counter for the fixed
// window, a small hash for the others), whose TTL ends when the limiter would
// be full again. One name is one namespace: limiters sharing a name share
// their counts, so give each algorithm its own name.
//
// Two things answer in-process instead:
// - the block cache: once Redis denies an id, its next consumes of the same
//   cost are denied here, without a round trip, until retryAfterMs has passed
//   (at most MAX_BLOCKED ids per limiter, oldest dropped first);
// - onRedisError: while Redis fails, 'allow' admits, 'deny' denies, and
//   'local' (the default) runs the same algorithm in Rust over per-process
//   state (src/features/ratelimit/), so limits still hold per process: one
//   table per limiter name of at most `localMaxIds` ids, least recently used
//   dropped first (src/features/ratelimit/fallback.rs).

const { invalid, fromNative } = require('./errors')
const { TEXT } = require('./transport')
const v = require('./values')

/** Algorithms whose capacity is `burst` (default `limit`) rather than `limit`. */
const BUCKETS = new Set(['token-bucket', 'gcra'])
const POLICIES = ['local', 'allow', 'deny']
/** Failures of the call itself, not of Redis: these reject whatever the policy. */
const NOT_REDIS = new Set(['ERR_INVALID_ARGUMENT', 'ERR_CLOSED'])
const MAX_BLOCKED = 10000
/** How long `onRedisError: 'deny'` asks callers to wait (a window if shorter): Redis is retried within seconds. */
const DENY_RETRY_MS = 1000

class RateLimiter {
  constructor(client, opts) {
    if (opts === null || typeof opts !== 'object') throw invalid(`rateLimiter options must be an object, got ${v.describe(opts)}`)
    const { name, limit, window, algorithm = 'fixed-window', burst, onRedisError = 'local', localMaxIds } = opts
    v.checkKey(name, 'name')
    positiveInteger('limit', limit)
    const windowMs = v.durationMs('window', window)
    // The native check below lists the algorithms; a non-string would not even reach it.
    if (typeof algorithm !== 'string') throw invalid(`algorithm must be a string, got ${v.describe(algorithm)}`)
    if (burst !== undefined) {
      if (!BUCKETS.has(algorithm)) throw invalid(`burst applies to 'token-bucket' and 'gcra' only, not to '${algorithm}'`)
      positiveInteger('burst', burst)
    }
    if (!POLICIES.includes(onRedisError)) {
      throw invalid(`onRedisError must be 'local', 'allow' or 'deny', got ${v.describe(onRedisError)}`)
    }
    if (localMaxIds !== undefined) {
      if (onRedisError !== 'local') throw invalid(`localMaxIds applies to onRedisError 'local' only, not to '${onRedisError}'`)
      positiveInteger('localMaxIds', localMaxIds)
    }
    const capacity = burst === undefined ? limit : burst
    const spec = { algorithm, limit, windowMs, burst: capacity, table: `${client._prefix}ratelimit:{${name}:`, localMaxIds }
    let script
    try {
      script = client._native.rateLimitScript(spec)
    } catch (err) {
      throw fromNative(err)
    }
    this.name = name
    this.limit = limit
    this.windowMs = windowMs
    this.algorithm = algorithm
    this._client = client
    this._capacity = capacity
    this._policy = onRedisError
    // Everything a call needs but its id and cost, computed once.
    this._script = script.name
    // The cost-1 fast path's own script (`_countOne`), called by name like the library's others.
    this._openScript = 'ratelimit_fixed_window_open'
    this._sha = script.sha
    this._head = spec.table
    this._limitArg = String(limit)
    this._windowArg = String(windowMs)
    this._burstArg = String(capacity)
    this._spec = spec
    this._blocked = new Map()
  }

  /** Takes `cost` units for `id`; a denial resolves with `allowed: false` and consumes nothing. */
  consume(id, cost = 1) {
    try {
      const key = this._key(id)
      this._checkCost(cost)
      const blocked = this._blocked.get(id)
      if (blocked !== undefined) {
        const now = Date.now()
        if (now >= blocked.until) this._blocked.delete(id)
        else if (cost === blocked.cost) return Promise.resolve(this._stillBlocked(blocked, now))
      }
      if (cost === 1 && this.algorithm === 'fixed-window') return this._countOne(id, key)
      return this._run(id, key, cost, false)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * A fixed-window consume of cost 1 as two plain commands in the normal pipeline, INCRBY and
   * PTTL: on the server a fraction of a script's cost, which is what bounds a limiter's
   * throughput. INCRBY is atomic, so at most `limit` calls per window see a count within the
   * limit. A denied call is not taken back: the window is full until it ends either way, and a
   * cost-1 call needs nothing more (the script path, for larger costs, does take a denial back).
   * The first count of a window has no TTL yet: ratelimit_fixed_window_open gives it the end of
   * its window on the server clock (one more round trip, once per window and id; if this process
   * dies in between, the next call for the id does it).
   */
  _countOne(id, key) {
    const c = this._client
    const fallback = (err) => this._onRedisError(err, key, 1, false)
    return Promise.all([c._cmd(['INCRBY', key, '1']), c._cmd(['PTTL', key])]).then(([count, left]) => {
      if (left > 0) return this._fromCount(id, count, left)
      // No TTL yet (a new window), or 0/-2 at the very end of one: ask the server.
      return c
        ._script(this._openScript, [key], [this._windowArg])
        .then((ms) => (ms > 0 ? this._fromCount(id, count, ms) : this._run(id, key, 1, false)), fallback)
    }, fallback)
  }

  /** The result of a cost-1 fixed-window count, as the script computes it. */
  _fromCount(id, count, left) {
    const allowed = count <= this.limit
    const result = {
      allowed,
      limit: this._capacity,
      remaining: Math.max(0, this.limit - count),
      resetMs: left,
      retryAfterMs: allowed ? 0 : left,
    }
    if (!allowed) this._block(id, 1, result)
    return result
  }

  /** What `consume(id)` would answer, consuming nothing (`remaining` is what is left now). */
  peek(id) {
    try {
      return this._run(id, this._key(id), 1, true)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Back to full capacity: deletes the id's key, and its local state. */
  async reset(id) {
    const key = this._key(id)
    this._blocked.delete(id)
    this._client._native.rateLimitLocalReset(key)
    await this._client._cmd(['DEL', key])
  }

  _key(id) {
    return this._head + v.checkKey(id, 'id') + '}'
  }

  _checkCost(cost) {
    if (!Number.isInteger(cost) || cost < 1 || cost > this._capacity) {
      throw invalid(`cost must be an integer from 1 to ${this._capacity}, got ${v.describe(cost)}`)
    }
  }

  /**
   * EVALSHA with the precomputed sha (client._script would look it up on every call). On
   * NOSCRIPT (restart, failover, SCRIPT FLUSH: the script did not run), client._script re-sends
   * it, as EVAL if need be.
   */
  _run(id, key, cost, peek) {
    const costArg = cost === 1 ? '1' : String(cost)
    const peekArg = peek ? '1' : '0'
    const done = (reply) => this._fromRedis(id, cost, peek, reply)
    const cmd = ['EVALSHA', this._sha, '1', key, this._limitArg, this._windowArg, this._burstArg, costArg, peekArg]
    return this._client._cmd(cmd, TEXT, done).catch((err) => {
      if (err.code !== 'ERR_REDIS' || !err.message.startsWith('NOSCRIPT')) return this._onRedisError(err, key, cost, peek)
      return this._client
        ._script(this._script, [key], cmd.slice(4), done)
        .catch((again) => this._onRedisError(again, key, cost, peek))
    })
  }

  _fromRedis(id, cost, peek, reply) {
    const result = this._result(reply)
    if (!result.allowed && !peek) this._block(id, cost, result)
    return result
  }

  /** `[allowed 0|1, remaining, resetMs, retryAfterMs]`, from a script or the local limiter. */
  _result(r) {
    return { allowed: r[0] === 1, limit: this._capacity, remaining: r[1], resetMs: r[2], retryAfterMs: r[3] }
  }

  _block(id, cost, result) {
    if (this._blocked.size >= MAX_BLOCKED && !this._blocked.has(id)) {
      this._blocked.delete(this._blocked.keys().next().value)
    }
    const now = Date.now()
    this._blocked.set(id, {
      cost,
      until: now + result.retryAfterMs,
      resetAt: now + result.resetMs,
      remaining: result.remaining,
    })
  }

  _stillBlocked(blocked, now) {
    return {
      allowed: false,
      limit: this._capacity,
      remaining: blocked.remaining,
      resetMs: Math.max(0, blocked.resetAt - now),
      retryAfterMs: blocked.until - now,
    }
  }

  _onRedisError(err, key, cost, peek) {
    if (NOT_REDIS.has(err.code)) throw err
    if (this._policy === 'allow') {
      return { allowed: true, limit: this._capacity, remaining: this._capacity, resetMs: 0, retryAfterMs: 0 }
    }
    if (this._policy === 'deny') {
      const wait = Math.min(this.windowMs, DENY_RETRY_MS)
      return { allowed: false, limit: this._capacity, remaining: 0, resetMs: wait, retryAfterMs: wait }
    }
    return this._result(this._client._native.rateLimitLocal(this._spec, key, cost, peek))
  }
}

function positiveInteger(name, n) {
  if (!Number.isSafeInteger(n) || n < 1) throw invalid(`${name} must be a positive integer, got ${v.describe(n)}`)
}

module.exports = { RateLimiter }
