'use strict'
// The public client: argument checks, key prefixing and reply decoding over
// the native client. Every write path evicts the L1 copy of its keys at once.

const { EventEmitter } = require('node:events')
const { NativeClient } = require('./native')
const { FerroError, invalid, fromNative } = require('./errors')
const { Transport, TEXT, BYTES } = require('./transport')
const { Cache, cacheDefaults } = require('./cache')
const { RateLimiter } = require('./ratelimit')
const { TokenBlacklist } = require('./blacklist')
const { Drafts } = require('./drafts')
const { Queue } = require('./queue')
const { classify } = require('./commands')
const v = require('./values')

const toBool = (n) => n > 0
/**
 * An error element of an array reply (src/bridge/mod.rs makes it an Error with code ERR_REDIS). Not
 * `instanceof Error`: the addon creates it in the main realm, which a Jest sandbox does not share.
 */
const isErrorReply = (r) => r !== null && typeof r === 'object' && r.code === 'ERR_REDIS' && typeof r.message === 'string'
const isOk = (r) => r === 'OK'
const decodeAll = (arr) => arr.map(v.deserialize)

class Client extends EventEmitter {
  constructor(options) {
    super()
    const native = toNative(options)
    const defaults = cacheDefaults(options !== null && typeof options === 'object' ? options.cache : undefined)
    this._prefix = native.keyPrefix || ''
    this._closed = false
    /** Aborted when close() starts: a blocking wait (a queue pop) ends then instead of holding close() up. */
    this._closing = new AbortController()
    this._transport = new Transport(null, (name, payload) => this._event(name, payload))
    try {
      this._native = new NativeClient(native, wakeWeakly(this._transport))
    } catch (err) {
      this._transport.close()
      throw fromNative(err)
    }
    this._transport.native = this._native
    this.cache = new Cache(this, defaults)
    /** Script name -> SHA1, asked of Rust once. */
    this._shas = new Map()
  }

  _event(name, payload) {
    if (name === 'error') {
      this._emitError(new FerroError(payload[0], payload[1]))
    } else if (name === 'reconnecting') {
      this._emitSafely('reconnecting', { attempt: payload[0], delayMs: payload[1] })
    } else if (name === 'ready') {
      // Rust flushed the L1 on reconnection: drop the parsed copies too.
      this.cache._syncRemoved()
      this._emitSafely('ready')
    } else if (name === 'localChanged') {
      // Another client changed keys this L1 held (src/cache/coherence.rs): internal, not emitted.
      this.cache._syncRemoved()
    }
  }

  /**
   * An error no call is waiting for (connection trouble, a failed background write). An 'error'
   * event without a listener would throw: such trouble is then reported by the failing calls
   * themselves and by the counters, and by this event when listened to.
   */
  _emitError(err) {
    if (this.listenerCount('error') > 0) this._emitSafely('error', err)
  }

  /**
   * Events are emitted from inside the drain that settles every call of the batch: a listener's
   * exception must not stop it half way. It is rethrown on its own tick, so it still surfaces as
   * an uncaughtException (as a throw from Node's own emitters does), with every call settled.
   */
  _emitSafely(name, arg) {
    try {
      this.emit(name, arg)
    } catch (err) {
      process.nextTick(() => {
        throw err
      })
    }
  }

  /** Throws ERR_CLOSED after close(). */
  _open() {
    if (this._closed) throw new FerroError('ERR_CLOSED', 'the client is closed')
  }

  _cmd(args, decode, transform) {
    this._open()
    return this._transport.command(args, decode, transform)
  }

  _k(key) {
    return this._prefix + v.checkKey(key)
  }

  get(key) {
    // Not `async`: one promise per call on the hottest path.
    try {
      return this._cmd(['GET', this._k(key)], TEXT, v.deserialize)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async getBuffer(key) {
    return this._cmd(['GET', this._k(key)], BYTES)
  }

  async set(key, value, opts = {}) {
    const k = this._k(key)
    checkOptions(opts)
    const args = ['SET', k, v.serialize(value)]
    if (opts.ttl !== undefined) args.push('PX', String(v.durationMs('ttl', opts.ttl)))
    if (opts.nx && opts.xx) throw invalid('nx and xx cannot both be set')
    if (opts.nx) args.push('NX')
    if (opts.xx) args.push('XX')
    this.cache.evict([key])
    return this._cmd(args, TEXT, isOk)
  }

  async del(keys) {
    const list = typeof keys === 'string' ? [keys] : v.checkKeys(keys)
    if (list.length === 0) return 0
    const full = list.map((k) => this._k(k))
    this.cache.evict(list)
    return this._cmd(['DEL', ...full])
  }

  async exists(key) {
    return this._cmd(['EXISTS', this._k(key)], TEXT, toBool)
  }

  async expire(key, ttl) {
    const args = ['PEXPIRE', this._k(key), String(v.durationMs('ttl', ttl))]
    this.cache.evict([key])
    return this._cmd(args, TEXT, toBool)
  }

  async ttl(key) {
    return this._cmd(['TTL', this._k(key)])
  }

  async incr(key, by = 1, opts = {}) {
    const k = this._k(key)
    v.checkInteger('by', by)
    checkOptions(opts)
    this.cache.evict([key])
    if (opts.ttl === undefined) return this._cmd(['INCRBY', k, String(by)])
    // One transaction: the key gets its TTL only when this call creates it.
    const ttl = String(v.durationMs('ttl', opts.ttl))
    return this._transaction([['SET', k, '0', 'PX', ttl, 'NX'], ['INCRBY', k, String(by)]], (r) => r[1])
  }

  async decr(key, by = 1) {
    const k = this._k(key)
    v.checkInteger('by', by)
    this.cache.evict([key])
    return this._cmd(['DECRBY', k, String(by)])
  }

  async mget(keys) {
    v.checkKeys(keys)
    if (keys.length === 0) return []
    return this._cmd(['MGET', ...keys.map((k) => this._k(k))], TEXT, decodeAll)
  }

  async mset(entries) {
    if (!Array.isArray(entries)) throw invalid(`entries must be an array of { key, value, ttl? }, got ${v.describe(entries)}`)
    // Validate everything before writing anything.
    const cmds = entries.map((e, i) => {
      if (e === null || typeof e !== 'object') throw invalid(`entries[${i}] must be an object`)
      const cmd = ['SET', this._prefix + v.checkKey(e.key, `entries[${i}].key`), v.serialize(e.value)]
      if (e.ttl !== undefined) cmd.push('PX', String(v.durationMs(`entries[${i}].ttl`, e.ttl)))
      return cmd
    })
    if (cmds.length === 0) return
    this.cache.evict(entries.map((e) => e.key))
    await this._transaction(cmds, () => undefined)
  }

  async getdel(key) {
    const k = this._k(key)
    this.cache.evict([key])
    return this._cmd(['GETDEL', k], TEXT, v.deserialize)
  }

  /**
   * Any other command, as an array of arguments (keys are not prefixed). Connection-state
   * commands are refused and blocking ones run on a connection of their own (lib/commands.js).
   */
  async command(args) {
    if (!Array.isArray(args) || args.length === 0) throw invalid('command() takes a non-empty array of arguments')
    const out = args.map((a, i) => {
      if (typeof a === 'string' || Buffer.isBuffer(a)) return a
      if (typeof a === 'number' && Number.isFinite(a)) return String(a)
      throw invalid(`command argument ${i} must be a string, a finite number or a Buffer, got ${v.describe(a)}`)
    })
    const { blockMs, write, flush } = classify(out)
    if (flush) this.cache._flushLocal()
    else if (write) this._evictArgs(out)
    if (blockMs !== undefined) return this._blocking((id) => this._native.blockingCommand(id, out, blockMs))
    return this._cmd(out)
  }

  /**
   * `command()` cannot tell keys from other arguments: every argument of a command that may write
   * and that could name an L1 entry (it starts with the keyPrefix) is evicted and fenced.
   */
  _evictArgs(args) {
    if (!this.cache._useLocal) return
    const prefix = this._prefix
    const keys = []
    for (let i = 1; i < args.length; i++) {
      const a = typeof args[i] === 'string' ? args[i] : args[i].toString()
      if (a.length > prefix.length && a.startsWith(prefix)) keys.push(a.slice(prefix.length))
    }
    if (keys.length > 0) this.cache.evict(keys)
  }

  /**
   * A native op that waits on a connection of its own (a blocking command, a queue pop). close()
   * waits for requests in flight: such a wait is settled with ERR_CLOSED as soon as close()
   * starts, instead of holding close() up until the server answers.
   */
  async _blocking(start, transform) {
    this._open()
    const transport = this._transport
    const closing = this._closing.signal
    let requestId
    const onClose = () => transport._settle(requestId, 'ERR_CLOSED', 'the client was closed while a blocking command was waiting')
    closing.addEventListener('abort', onClose)
    try {
      return await transport.op((id) => {
        requestId = id
        start(id)
      }, transform)
    } finally {
      closing.removeEventListener('abort', onClose)
    }
  }

  rateLimiter(opts) {
    return new RateLimiter(this, opts)
  }

  tokenBlacklist(opts) {
    return new TokenBlacklist(this, opts)
  }

  drafts(namespace, opts) {
    return new Drafts(this, namespace, opts)
  }

  queue(name) {
    return new Queue(this, name)
  }

  /**
   * EVALSHA of one of the library's scripts (src/lua), batched like any command. A server that
   * lost its script cache (restart, failover, SCRIPT FLUSH) answers NOSCRIPT: the call is re-sent
   * once as EVAL, which also reloads the script.
   */
  _script(name, keys, args, transform) {
    let sha = this._shas.get(name)
    if (sha === undefined) this._shas.set(name, (sha = this._native.scriptSha(name)))
    const rest = [String(keys.length), ...keys, ...args]
    return this._cmd(['EVALSHA', sha, ...rest], TEXT, transform).catch((err) => {
      if (err.code !== 'ERR_REDIS' || !err.message.startsWith('NOSCRIPT')) throw err
      return this._cmd(['EVAL', this._native.scriptCode(name), ...rest], TEXT, transform)
    })
  }

  /** MULTI ... EXEC issued together in one batch; resolves `pick(execReply)`. */
  _transaction(cmds, pick) {
    this._open()
    const t = this._transport
    t.holding++
    let sent
    try {
      sent = [t.command(['MULTI']), ...cmds.map((c) => t.command(c)), t.command(['EXEC'])]
    } finally {
      t.holding--
    }
    return Promise.all(sent).then((replies) => {
      const exec = replies[replies.length - 1]
      // A command that failed inside the transaction is an error element of EXEC's reply.
      const failed = Array.isArray(exec) ? exec.find(isErrorReply) : undefined
      if (failed !== undefined) throw new FerroError('ERR_REDIS', failed.message)
      return pick(exec)
    })
  }

  async ping() {
    this._open()
    return this._transport.op((id) => this._native.ping(id))
  }

  async health() {
    const timestamp = () => new Date().toISOString()
    const backend = this._native.backendName()
    if (this._closed) return { status: 'unhealthy', backend, latencyMs: null, timestamp: timestamp() }
    try {
      const latencyMs = await this.ping()
      return { status: latencyMs > DEGRADED_MS ? 'degraded' : 'healthy', backend, latencyMs, timestamp: timestamp() }
    } catch {
      return { status: 'unhealthy', backend, latencyMs: null, timestamp: timestamp() }
    }
  }

  stats() {
    this.cache._report()
    const s = this._native.stats()
    const cache = this.cache._statsOf(s)
    return {
      commands: s.commands,
      errors: s.errors,
      timeouts: s.timeouts,
      reconnects: s.reconnects,
      inFlight: s.inFlight,
      cache,
    }
  }

  async serverInfo() {
    this._open()
    return this._transport.op((id) => this._native.serverInfo(id), JSON.parse)
  }

  metrics() {
    this.cache._report()
    return this._native.metrics()
  }

  /**
   * Waits for in-flight requests and the cache's background writes (each bounded by the command
   * timeout), then ends every task, socket and timer of the client.
   */
  async close() {
    if (this._closed) return
    this._closed = true
    this._closing.abort()
    await this.cache.drained()
    await this._transport.idle()
    this._native.close()
    this._transport.close()
    this.cache._local.clear()
    this.emit('end')
  }
}

/**
 * The function Rust calls when results are ready. Rust holds it strongly (a threadsafe function
 * cannot hold its function weakly), so it reaches the transport through a WeakRef: a client the
 * app drops without close() is then held by nothing while idle, and is collected; the native
 * client's finalizer closes its connections. While requests are in flight, `transport.js` holds
 * the transport (and so the client), so their promises always settle.
 */
function wakeWeakly(transport) {
  const ref = new WeakRef(transport)
  return (drained) => {
    const t = ref.deref()
    if (t !== undefined) t.wake(drained)
  }
}

/** A PING slower than this reports the client as degraded. */
const DEGRADED_MS = 250

function checkOptions(opts) {
  if (opts === null || typeof opts !== 'object') throw invalid(`options must be an object, got ${v.describe(opts)}`)
}

/** An optional options object. */
function obj(name, o) {
  if (o !== undefined && (o === null || typeof o !== 'object' || Array.isArray(o))) {
    throw invalid(`${name} must be an object, got ${v.describe(o)}`)
  }
  return o
}

/** An optional array of URL strings; a wrong one is not echoed (a URL may hold a password). */
function strings(name, list) {
  if (list === undefined) return undefined
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    throw invalid(`${name} must be an array of URL strings, got ${typeOf(list)}`)
  }
  return list
}

/** What a value is, never what it holds: the error text for options that may carry a secret. */
function typeOf(x) {
  if (x === null) return 'null'
  if (Array.isArray(x)) return 'an array'
  return /^[aeiou]/.test(typeof x) ? `an ${typeof x}` : `a ${typeof x}`
}

/** PEM text from a string or a Buffer. */
function pem(name, ca) {
  if (ca === undefined || typeof ca === 'string') return ca
  if (Buffer.isBuffer(ca)) return ca.toString('utf8')
  throw invalid(`${name} must be a PEM string or Buffer, got ${v.describe(ca)}`)
}

/** Public options (or a URL) to the native options, durations in ms. */
function toNative(options) {
  if (options === undefined) options = {}
  if (typeof options === 'string') options = { url: options }
  checkOptions(options)
  const ms = (name, d) => (d === undefined ? undefined : v.durationMs(name, d))
  const num = (name, n) => {
    if (n !== undefined && typeof n !== 'number') throw invalid(`${name} must be a number, got ${v.describe(n)}`)
    return n
  }
  const bool = (name, b) => {
    if (b !== undefined && typeof b !== 'boolean') throw invalid(`${name} must be a boolean, got ${v.describe(b)}`)
    return b
  }
  const str = (name, s) => {
    if (s !== undefined && typeof s !== 'string') throw invalid(`${name} must be a string, got ${v.describe(s)}`)
    return s
  }
  /** A string that may be or hold a password (a URL): a wrong one is not echoed. */
  const secret = (name, s) => {
    if (s !== undefined && typeof s !== 'string') throw invalid(`${name} must be a string, got ${typeOf(s)}`)
    return s
  }
  const local = options.local
  if (local !== undefined && local !== false && (local === null || typeof local !== 'object')) {
    throw invalid(`local must be false or an object, got ${v.describe(local)}`)
  }
  const l = local || {}
  const sentinel = obj('sentinel', options.sentinel)
  const tls = obj('tls', options.tls)
  return {
    url: secret('url', options.url),
    cluster: strings('cluster', options.cluster),
    sentinelName: sentinel && str('sentinel.name', sentinel.name),
    sentinelNodes: sentinel && strings('sentinel.nodes', sentinel.nodes),
    sentinelUsername: sentinel && str('sentinel.username', sentinel.username),
    sentinelPassword: sentinel && secret('sentinel.password', sentinel.password),
    sentinelDb: sentinel && num('sentinel.db', sentinel.db),
    tls: tls !== undefined,
    tlsCa: tls && pem('tls.ca', tls.ca),
    tlsServername: tls && str('tls.servername', tls.servername),
    keyPrefix: str('keyPrefix', options.keyPrefix),
    defaultTtlMs: ms('defaultTtl', options.defaultTtl),
    localEnabled: local !== false,
    localMaxEntries: num('local.maxEntries', l.maxEntries),
    localMaxBytes: num('local.maxBytes', l.maxBytes),
    localTtlMs: ms('local.ttl', l.ttl),
    localCoherence: str('local.coherence', l.coherence),
    connectTimeoutMs: num('connectTimeoutMs', options.connectTimeoutMs),
    commandTimeoutMs: num('commandTimeoutMs', options.commandTimeoutMs),
    failFast: bool('failFast', options.failFast),
    env: redisEnv(),
  }
}

const ENV_VARS = ['REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_DB']

/** The connection variables as this Node process sees them (Jest sandboxes process.env). */
function redisEnv() {
  const env = {}
  for (const name of ENV_VARS) if (typeof process.env[name] === 'string') env[name] = process.env[name]
  return env
}

/** Connects (bounded by connectTimeoutMs) and resolves the client; rejects only with failFast. */
async function createClient(options) {
  const client = new Client(options)
  try {
    await client._transport.op((id) => client._native.connect(id))
  } catch (err) {
    await client.close()
    throw err
  }
  return client
}

module.exports = { Client, createClient }
