/// <reference types="node" />

/** A number of seconds, or a string with a unit: `'500ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`. */
export type Duration = number | string

export type ErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_UNAVAILABLE'
  | 'ERR_TIMEOUT'
  | 'ERR_REDIS'
  | 'ERR_SERIALIZE'
  | 'ERR_CLOSED'
  | 'ERR_DRAFT_CONFLICT'
  /** A `cache.getOrSet` loader overran its `hardTimeout` with no stale value to serve. */
  | 'ERR_LOADER_TIMEOUT'
  /**
   * Emitted as `'error'` only: a `cache.getOrSet` loader failed after its callers were answered
   * (a stale value was served, or a timeout fired) and no `onLoaderError` took it; `cause` is the
   * loader's error.
   */
  | 'ERR_LOADER_FAILED'

/** Every rejection of this library is a FerroError; branch on `code`, not on the message. */
export declare class FerroError extends Error {
  readonly name: 'FerroError'
  readonly code: ErrorCode
  /** The error it reports, when it wraps one (`ERR_LOADER_FAILED`: the loader's error). */
  cause?: unknown
  constructor(code: ErrorCode, message: string)
}

export interface LocalTierOptions {
  /** Most entries the L1 holds. Default 10,000. */
  maxEntries?: number
  /** Most bytes (serialized size of values plus keys) the L1 holds. Default 64 MiB. */
  maxBytes?: number
  /** Longest an entry lives in L1, whatever its Redis TTL. Default 60 s. */
  ttl?: Duration
  /**
   * How the L1 learns of writes made elsewhere (other processes, `redis-cli`, other clients of a
   * shared `memory://name` store). Default `'tracking'`.
   * - `'tracking'`: Redis server-assisted client-side caching (`CLIENT TRACKING ... BCAST`, one
   *   extra connection per client): a key changed or deleted anywhere leaves this L1 within
   *   milliseconds, and the L1 is emptied when the connection is lost and again on reconnection.
   *   A server that refuses tracking (before Redis 6, some proxies) gets `'ttl'`, with an `'error'`
   *   event saying so.
   * - `'ttl'`: no invalidation from elsewhere: a copy may be stale until its L1 `ttl` ends.
   *
   * Writes made through this client evict its own copies at once in both modes, and fence the
   * reads of those keys already in flight (their older replies are not cached). A `command()`
   * that may write evicts every argument that starts with the keyPrefix.
   */
  coherence?: 'tracking' | 'ttl'
}

/** Sentinel mode: the sentinels to ask, and the master they watch. */
export interface SentinelOptions {
  /** The master's name in the sentinels' configuration. */
  name: string
  /** Sentinel URLs, `redis://[user:pass@]host:port` (their own credentials, if any). */
  nodes: string[]
  /** The master's ACL user. */
  username?: string
  /** The master's password. */
  password?: string
  /** The master's database. Default 0. */
  db?: number
}

/** TLS for every connection; the server certificate is always verified. */
export interface TlsOptions {
  /** PEM certificates of the CAs to trust instead of the system's (a private CA). */
  ca?: string | Buffer
  /** The name the server certificate must carry, when it is not the host's. */
  servername?: string
}

export interface ClientOptions {
  /**
   * `redis://[user:pass@]host:port/db`, `rediss://` (TLS), `redis+cluster://[user:pass@]host:port,host:port`,
   * `redis+sentinel://[user:pass@]host:port,host:port/master[/db]` or `memory://[name]`. Default:
   * `REDIS_URL`, else `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`/`REDIS_DB`, else `redis://127.0.0.1:6379`.
   */
  url?: string
  /**
   * Redis Cluster mode: seed node URLs (`redis://[user:pass@]host:port` or `rediss://`); the rest is
   * discovered. With L1 coherence this client's own writes also evict its own L1 copies (README:
   * Redis Cluster); `tls.servername` is not supported here.
   */
  cluster?: string[]
  /** Sentinel mode: connects to the current master and follows failovers. */
  sentinel?: SentinelOptions
  /** TLS options; TLS is on with `rediss://` URLs or when this is given. */
  tls?: TlsOptions
  /** Prepended to every key the client touches, e.g. `'myapp:'`. */
  keyPrefix?: string
  /** TTL of cache entries written without one. Default 300 s. */
  defaultTtl?: Duration
  /** The in-process L1 tier in front of Redis, or `false` for none. */
  local?: false | LocalTierOptions
  /** Longest a connection attempt may take. Default 2000 ms. */
  connectTimeoutMs?: number
  /** Longest a command may wait for its reply. Default 1000 ms. */
  commandTimeoutMs?: number
  /** Reject `createClient` when Redis is unreachable. Default false: start degraded and reconnect. */
  failFast?: boolean
  /** Defaults of every `cache.getOrSet` / `cache.set` call; a call's own options override them. */
  cache?: CacheDefaults
}

/**
 * How a cache entry is written and served when its loader fails or is slow: the options of
 * `cache.getOrSet` / `cache.set` (and of `@Cacheable`) that may also be client-wide defaults
 * (the `cache` option of `createClient`; a call's own options override them).
 */
export interface CachePolicy {
  /**
   * TTL jitter, a fraction in [0, 1) (else ERR_INVALID_ARGUMENT, nothing written): the entry's
   * TTL, in Redis and in L1, is drawn uniformly in `ttl × (1 ± jitter)` (to the millisecond), so
   * keys written together do not expire together. `0.1` spreads them by ±10 %. Default 0.
   */
  jitter?: number
  /**
   * Grace (0 = off, the default): the entry lives `ttl + grace` in Redis and in L1 and is stale
   * for its last `grace`. A stale entry is not served as is: getOrSet calls the loader and serves
   * the stale value when the loader throws or overruns `timeout`, or when Redis is unreachable
   * (counted in `stats().staleServed`). Every reader of a key should use the same `grace`.
   * `delete`, `invalidate` and `invalidateTags` remove entries outright: a deleted value is never
   * served. README: "Grace, stale-while-revalidate and loader timeouts".
   */
  grace?: Duration
  /**
   * When a stale value is served because the loader failed (or Redis is unreachable), the entry
   * is fresh again for this long (in L1 and in Redis), so a failing loader is not called on every
   * request. Default '10s'.
   */
  graceBackoff?: Duration
  /**
   * Soft timeout (stale-while-revalidate): with a stale value at hand, a loader taking longer
   * (0 = at once) lets the caller have the stale value while it finishes in the background,
   * refreshing the entry. Must not exceed `hardTimeout`. Default: none (wait for the loader).
   */
  timeout?: Duration
  /**
   * With no stale value, a loader taking longer rejects its callers with `ERR_LOADER_TIMEOUT`; it
   * goes on and fills the cache when it ends. Default: none.
   */
  hardTimeout?: Duration
  /**
   * Receives the loader errors no caller gets (a stale value was served, or the callers were
   * answered by a timeout); they also count in `stats().errors`. Default: the client's `'error'`
   * event, as a FerroError `ERR_LOADER_FAILED` whose `cause` is the loader's error (so is an
   * exception `onLoaderError` throws). Never an unhandled rejection.
   */
  onLoaderError?: (err: unknown, key: string) => void
}

/** The `cache` option of `createClient`: client-wide defaults of {@link CachePolicy}. */
export type CacheDefaults = CachePolicy

export interface SetOptions {
  ttl?: Duration
  /** Only set when the key does not exist. */
  nx?: boolean
  /** Only set when the key exists. */
  xx?: boolean
}

export interface CacheOptions extends CachePolicy {
  /** Redis TTL of the entry. Default: the client's `defaultTtl`. */
  ttl?: Duration
  /** L1 TTL of the entry, capped by `ttl` and the L1 `ttl`. */
  localTtl?: Duration
  /** Tags for `invalidateTags`. */
  tags?: string[]
  /** `false` skips the L1 tier for this entry. */
  local?: boolean
}

export interface LocalStats {
  entries: number
  bytes: number
  evictions: number
}

export interface CacheStats {
  hits: number
  misses: number
  localHits: number
  remoteHits: number
  loads: number
  errors: number
  /**
   * Stale values served by getOrSet within their grace (the loader failed or overran, or Redis
   * was unreachable): once per load, the callers of this process sharing it not counted again.
   */
  staleServed: number
  /** hits / (hits + misses), 0 when nothing was read. */
  hitRate: number
  local: LocalStats
}

export interface Cache {
  /**
   * The cached value, else the loader's result, stored in Redis and L1. Concurrent callers of one
   * key in this process share one loader call. When Redis fails, the loader's value is served.
   * L1 hits return the same object to every caller: treat cached values as immutable.
   *
   * Write-behind: on a miss the promise resolves as soon as the loader's value is known; L1 takes
   * it at once and the SET and tag writes finish in the background. Until they have ended, callers
   * of the key in this process share the value without a second loader call. A failed
   * background write counts in `stats().errors` and is emitted as an `'error'` event (never an
   * unhandled rejection); `close()` waits for the writes under way. A loader still running when
   * `close()` starts gives its caller the value, unwritten. README: "Write-behind and jitter".
   */
  getOrSet<T>(key: string, loader: () => T | Promise<T>, opts?: CacheOptions): Promise<T>
  /** L1, then Redis; `null` on a miss (and when Redis is unreachable). */
  get<T = unknown>(key: string): Promise<T | null>
  /** Resolves once the value is written (no write-behind here). */
  set(key: string, value: unknown, opts?: CacheOptions): Promise<void>
  delete(keys: string | string[]): Promise<number>
  /** Deletes every key matching the glob (SCAN + UNLINK, never KEYS), L1 included. Returns the count. */
  invalidate(pattern: string): Promise<number>
  /** Deletes every key written with one of these tags. Returns the count. */
  invalidateTags(tags: string[]): Promise<number>
  /**
   * Resolves once the background writes of the misses served so far (write-behind) have ended:
   * stored, or their failure counted and reported. Never rejects. For tests and for code that
   * must know another process can read the value; `close()` waits for them too.
   */
  drained(): Promise<void>
  /** Synchronous, L1 only. */
  peek<T = unknown>(key: string): T | undefined
  stats(): CacheStats
}

export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy'
  backend: string
  latencyMs: number | null
  timestamp: string
}

export interface ClientStats {
  commands: number
  errors: number
  timeouts: number
  reconnects: number
  inFlight: number
  cache: CacheStats
}

export interface ServerInfo {
  keys: number
  usedMemory: string
  hits: number
  misses: number
  evictions: number
}

export type ClientEvent = 'ready' | 'error' | 'reconnecting' | 'end'

export interface Client {
  /** JSON-parsed; a stored value that is not JSON comes back as a string, or a Buffer when not UTF-8. */
  get<T = unknown>(key: string): Promise<T | null>
  /** The raw bytes, always. */
  getBuffer(key: string): Promise<Buffer | null>
  /** Resolves false when `nx` / `xx` prevented the write. Without ttl the key never expires. */
  set(key: string, value: unknown, opts?: SetOptions): Promise<boolean>
  del(keys: string | string[]): Promise<number>
  exists(key: string): Promise<boolean>
  expire(key: string, ttl: Duration): Promise<boolean>
  /** Seconds; -1 no expiry, -2 missing (Redis semantics). */
  ttl(key: string): Promise<number>
  /** The ttl is applied only when this call creates the key. */
  incr(key: string, by?: number, opts?: { ttl?: Duration }): Promise<number>
  decr(key: string, by?: number): Promise<number>
  mget<T = unknown>(keys: string[]): Promise<(T | null)[]>
  mset(entries: { key: string; value: unknown; ttl?: Duration }[]): Promise<void>
  getdel<T = unknown>(key: string): Promise<T | null>
  /**
   * Escape hatch: any command, keys not prefixed. Bulk replies come back as strings (Buffers when
   * not UTF-8); an error element inside an array reply is an `Error` with `code: 'ERR_REDIS'`.
   * Commands that would change the shared connection's state (SUBSCRIBE and its family, MONITOR,
   * RESET, QUIT, HELLO, AUTH, SELECT, MULTI/EXEC/DISCARD/WATCH/UNWATCH, CLIENT REPLY, CLIENT
   * TRACKING, READONLY/READWRITE, SYNC/PSYNC) reject with `ERR_INVALID_ARGUMENT`. Blocking
   * commands (BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD ... BLOCK, WAIT, ...) run on a connection of
   * their own; `close()` ends them with `ERR_CLOSED`.
   */
  command(args: (string | number | Buffer)[]): Promise<unknown>

  readonly cache: Cache

  /** A limiter whose keys live at `<keyPrefix>ratelimit:{<name>:<id>}`. */
  rateLimiter(opts: RateLimiterOptions): RateLimiter
  /** A JWT revocation list; fails closed by default. */
  tokenBlacklist(opts?: TokenBlacklistOptions): TokenBlacklist
  /** Multi-step form drafts (a hash per draft) with a sliding TTL. */
  drafts(namespace?: string, opts?: { ttl?: Duration }): Drafts
  /** A job queue on the list `queue:<name>`, consumable by a `BRPOP` worker. */
  queue(name: string): Queue

  /** Round trip in ms. */
  ping(): Promise<number>
  health(): Promise<HealthReport>
  /** Synchronous: counters kept in Rust. */
  stats(): ClientStats
  serverInfo(): Promise<ServerInfo>
  /** Prometheus text exposition. */
  metrics(): string
  on(event: 'ready', listener: () => void): this
  on(event: 'error', listener: (err: FerroError) => void): this
  on(event: 'reconnecting', listener: (info: { attempt: number; delayMs: number }) => void): this
  on(event: 'end', listener: () => void): this
  off(event: ClientEvent, listener: (...args: any[]) => void): this
  once(event: ClientEvent, listener: (...args: any[]) => void): this
  /** Ends every timer, socket and thread the client owns; later calls reject with ERR_CLOSED. */
  close(): Promise<void>
}

// --- rate limiting -------------------------------------------------------------------------

export type RateLimitAlgorithm = 'fixed-window' | 'sliding-window' | 'token-bucket' | 'gcra'

export interface RateLimiterOptions {
  /** Key namespace, e.g. `'login'` or the route. */
  name: string
  limit: number
  window: Duration
  /** Default `'fixed-window'`. */
  algorithm?: RateLimitAlgorithm
  /** Token bucket / GCRA: how many requests may pass at once. Default `limit`. */
  burst?: number
  /** When Redis fails: `'local'` (default) a per-process limiter until Redis is back, `'allow'`, or `'deny'`. */
  onRedisError?: 'allow' | 'deny' | 'local'
  /**
   * With `onRedisError: 'local'`: the most ids whose counts the per-process limiter keeps for
   * this limiter's name, default 65,536 (a positive integer). Each limiter name has its own
   * table, so ids rotated through one limiter never push out another's counts. When the table is
   * full, the id whose last call is oldest (least recently used) is dropped, and starts again
   * from a full limiter: a caller sending more new ids than this between two calls of a
   * victim's id resets that id's count during the outage. Limiters sharing a name share the
   * table: give them the same bound.
   */
  localMaxIds?: number
}

export interface RateLimitResult {
  allowed: boolean
  /** The limiter's capacity: `limit`, or `burst` for the token bucket and GCRA. */
  limit: number
  /** What is left after this call (for `peek`, what is left now); never above `limit`. */
  remaining: number
  /** ms until the limiter is back to full capacity (`remaining === limit`) if no request comes. */
  resetMs: number
  /** ms until a request of the same cost would be admitted (0 when allowed). */
  retryAfterMs: number
}

export interface RateLimiter {
  readonly name: string
  readonly limit: number
  readonly windowMs: number
  readonly algorithm: RateLimitAlgorithm
  /** A denial resolves (`allowed: false`) and consumes nothing; it does not reject. */
  consume(id: string, cost?: number): Promise<RateLimitResult>
  /** What `consume(id)` would answer, consuming nothing. */
  peek(id: string): Promise<RateLimitResult>
  /** Back to full capacity: deletes the id's key (and its per-process state). */
  reset(id: string): Promise<void>
}

// --- JWT blacklist ---------------------------------------------------------------------------

export interface TokenBlacklistOptions {
  /** Key prefix of the list. Default `'jwt'`. */
  prefix?: string
  /** `isRevoked` when Redis fails: `'deny'` (default: treat as revoked) or `'allow'`. */
  onRedisError?: 'deny' | 'allow'
}

export interface TokenBlacklist {
  /** Revokes until the token's own `exp` (seconds since the epoch); an expired token is a no-op. */
  revoke(token: { jti: string; exp: number }): Promise<void>
  /**
   * One round trip: the jti is revoked, or `sub`'s tokens issued up to `iat` were (a token without
   * `iat` counts as issued before). Resolves per `onRedisError` when Redis fails.
   */
  isRevoked(token: { jti: string; sub?: string; iat?: number }): Promise<boolean>
  /** Revokes every token of `sub` issued up to now (millisecond precision). */
  revokeAllForUser(sub: string, opts?: { maxTokenLifetime?: Duration }): Promise<void>
}

// --- drafts ----------------------------------------------------------------------------------

export interface Draft<T = Record<string, unknown>> {
  id: string
  steps: T
  version: number
  updatedAt: string
  expiresInSeconds: number
}

export interface Drafts {
  /** Merges one step, bumps the version, refreshes the TTL; ERR_DRAFT_CONFLICT when `expectedVersion` is stale. */
  save(id: string, step: string, data: unknown, opts?: { expectedVersion?: number }): Promise<Draft>
  get<T = Record<string, unknown>>(id: string): Promise<Draft<T> | null>
  discard(id: string): Promise<boolean>
  /** Reads and deletes atomically: exactly one of concurrent callers gets the draft. */
  complete<T = Record<string, unknown>>(id: string): Promise<Draft<T> | null>
}

// --- job queue -------------------------------------------------------------------------------

export interface Job<T = unknown> {
  id: string
  payload: T
}

export interface Queue {
  readonly name: string
  /** LPUSHes `{ id, payload, enqueuedAt }` (JSON) on `queue:<name>`; returns the job id. */
  push(payload: unknown): Promise<string>
  /**
   * Takes the oldest job into `{<keyPrefix>queue:<name>}:processing` until `ack`; waits up to `timeoutMs`
   * (default 1000, at most 60000; 0 takes a job only if one is there), on a connection of its
   * own. Null when none came. `close()` ends a waiting pop with ERR_CLOSED.
   */
  pop<T = unknown>(opts?: { timeoutMs?: number }): Promise<Job<T> | null>
  ack(id: string): Promise<void>
  /** Stored as JSON at `queue:<name>:status:<id>` (a worker can write it too); ttl default 1 h. */
  setStatus(id: string, status: unknown, opts?: { ttl?: Duration }): Promise<void>
  status<T = unknown>(id: string): Promise<T | null>
}

/** Connects (or starts connecting, unless `failFast`) and resolves the client. */
export declare function createClient(options?: ClientOptions | string): Promise<Client>

export declare const TTL: { readonly SHORT: 60; readonly MEDIUM: 300; readonly LONG: 3600; readonly VERY_LONG: 86400 }

/**
 * `key('listing', 42) === 'listing:42'`. Each part is percent-encoded for `% : * ? [ ] \`, so the
 * result is both the key and a glob pattern matching exactly that key.
 */
export declare function key(...parts: (string | number)[]): string
