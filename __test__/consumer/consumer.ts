/**
 * Compiled (never run) by types.spec.ts with `tsc --noEmit --strict`: every export of
 * index.d.ts used the way an application would. `@ts-expect-error` lines pin what the types
 * must refuse.
 */
import { createClient, FerroError, key, TTL } from '../../index';
import type {
  Cache,
  CacheOptions,
  CacheStats,
  Client,
  Draft,
  Drafts,
  Job,
  Queue,
  RateLimitAlgorithm,
  RateLimiter,
  RateLimiterOptions,
  RateLimitResult,
  TokenBlacklist,
  TokenBlacklistOptions,
  ClientEvent,
  ClientOptions,
  ClientStats,
  Duration,
  ErrorCode,
  HealthReport,
  LocalStats,
  LocalTierOptions,
  SentinelOptions,
  ServerInfo,
  SetOptions,
  TlsOptions,
} from '../../index';

interface MenuItem {
  id: number;
  name: string;
  price: number;
}

declare const db: { menu(): Promise<MenuItem[]> };

export async function app(): Promise<void> {
  const local: LocalTierOptions = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, ttl: '1m' };
  const options: ClientOptions = {
    url: 'redis://127.0.0.1:6379/0',
    keyPrefix: 'myapp:',
    defaultTtl: TTL.MEDIUM,
    local,
    connectTimeoutMs: 2000,
    commandTimeoutMs: 1000,
    failFast: false,
    cache: { jitter: 0.1, grace: '1h', graceBackoff: '10s', timeout: '50ms', hardTimeout: 2, onLoaderError: (err: unknown, k: string) => void [err, k] },
  };
  const noLocal: ClientOptions = { local: false };
  const client: Client = await createClient(options);
  const fromUrl: Client = await createClient('redis://127.0.0.1:6379');
  const fromEnv: Client = await createClient();
  await createClient(noLocal);

  // deployment modes
  const tls: TlsOptions = { ca: Buffer.from('-----BEGIN CERTIFICATE-----'), servername: 'redis.internal' };
  await createClient({ url: 'rediss://redis.internal:6380/0', tls });
  await createClient({ url: 'rediss://redis.internal:6380', tls: { ca: 'PEM text' } });
  const sentinel: SentinelOptions = { name: 'mymaster', nodes: ['redis://s1:26379'], password: 'pw', db: 1 };
  await createClient({ sentinel, keyPrefix: 'myapp:' });
  await createClient('redis+sentinel://s1:26379,s2:26379/mymaster/0');
  await createClient({ cluster: ['redis://node1:7000', 'redis://node2:7001'], tls });
  await createClient('redis+cluster://:pw@node1:7000,node2:7001');

  // plain commands
  const ttl: Duration = '30s';
  const setOpts: SetOptions = { ttl, nx: true };
  const written: boolean = await client.set('user:1', { name: 'Ada' }, setOpts);
  await client.set('bin', Buffer.from([1, 2, 3]), { ttl: 60, xx: true });
  const user = await client.get<{ name: string }>('user:1');
  const name: string | undefined = user?.name;
  const anything: unknown = await client.get('x');
  const raw: Buffer | null = await client.getBuffer('bin');
  const deleted: number = (await client.del('a')) + (await client.del(['a', 'b']));
  const present: boolean = await client.exists('a');
  const expired: boolean = await client.expire('a', '5m');
  const remaining: number = await client.ttl('a');
  const n1: number = await client.incr('hits');
  const n2: number = await client.incr('hits', 5, { ttl: TTL.SHORT });
  const n3: number = await client.decr('hits', 2);
  const many: (MenuItem | null)[] = await client.mget<MenuItem>(['m:1', 'm:2']);
  await client.mset([{ key: 'a', value: 1 }, { key: 'b', value: 'two', ttl: '1h' }]);
  const gone: MenuItem | null = await client.getdel<MenuItem>('m:1');
  const reply: unknown = await client.command(['HSET', 'h', 'f', 1, Buffer.from('v')]);

  // cache
  const cache: Cache = client.cache;
  const cacheOpts: CacheOptions = { ttl: TTL.LONG, localTtl: '10s', tags: ['menu'], local: true, jitter: 0.05 };
  const menu: MenuItem[] = await cache.getOrSet('menu:full', () => db.menu(), cacheOpts);
  const syncValue: number = await cache.getOrSet('answer', () => 42);
  const graceOpts: CacheOptions = { ttl: '5m', grace: '1h', graceBackoff: 10, timeout: 0, hardTimeout: '3s', onLoaderError: (err) => void err };
  const served: MenuItem[] = await cache.getOrSet('menu:stale', () => db.menu(), graceOpts);
  const maybeMenu: MenuItem[] | null = await cache.get<MenuItem[]>('menu:full');
  await cache.set(key('listing', 42), { id: 42 }, { ttl: 300 });
  const removed: number = (await cache.delete('a')) + (await cache.delete(['a', 'b']));
  const invalidated: number = await cache.invalidate(key('menu') + ':*');
  const byTag: number = await cache.invalidateTags(['menu']);
  const peeked: MenuItem[] | undefined = cache.peek<MenuItem[]>('menu:full');
  const cacheStats: CacheStats = cache.stats();
  const localStats: LocalStats = cacheStats.local;
  const rate: number = cacheStats.hitRate + cacheStats.staleServed + localStats.entries + localStats.bytes + localStats.evictions;

  // observability
  const rtt: number = await client.ping();
  const health: HealthReport = await client.health();
  const status: 'healthy' | 'degraded' | 'unhealthy' = health.status;
  const latency: number | null = health.latencyMs;
  const stats: ClientStats = client.stats();
  const inFlight: number = stats.inFlight + stats.commands + stats.errors + stats.timeouts + stats.reconnects;
  const sameCache: CacheStats = stats.cache;
  const info: ServerInfo = await client.serverInfo();
  const memory: string = info.usedMemory;
  const text: string = client.metrics();

  // events
  const events: ClientEvent[] = ['ready', 'error', 'reconnecting', 'end'];
  const onError = (err: FerroError) => {
    const code: ErrorCode = err.code;
    switch (code) {
      case 'ERR_UNAVAILABLE':
      case 'ERR_TIMEOUT':
      case 'ERR_REDIS':
      case 'ERR_INVALID_ARGUMENT':
      case 'ERR_SERIALIZE':
      case 'ERR_CLOSED':
      case 'ERR_DRAFT_CONFLICT':
      case 'ERR_LOADER_TIMEOUT':
      case 'ERR_LOADER_FAILED':
        break;
      default: {
        const exhaustive: never = code;
        throw new Error(exhaustive);
      }
    }
  };
  client
    .on('ready', () => undefined)
    .on('error', onError)
    .on('reconnecting', ({ attempt, delayMs }) => void (attempt + delayMs))
    .on('end', () => undefined)
    .once('ready', () => undefined)
    .off('error', onError);

  // errors
  try {
    await client.set('', 1);
  } catch (err) {
    if (err instanceof FerroError && err.code === 'ERR_INVALID_ARGUMENT') {
      const message: string = err.message;
      const errName: 'FerroError' = err.name;
      void [message, errName];
    }
  }
  const made = new FerroError('ERR_TIMEOUT', 'took too long');
  const loaderTimeout: ErrorCode = 'ERR_LOADER_TIMEOUT';
  const asError: Error = made;

  // helpers
  const k: string = key('listing', 42, 'photos');
  const short: 60 = TTL.SHORT;
  const medium: 300 = TTL.MEDIUM;
  const long: 3600 = TTL.LONG;
  const veryLong: 86400 = TTL.VERY_LONG;

  await Promise.all([client.close(), fromUrl.close(), fromEnv.close()]);

  void [written, name, anything, raw, deleted, present, expired, remaining, n1, n2, n3, many, gone, reply];
  void [menu, syncValue, served, loaderTimeout, maybeMenu, removed, invalidated, byTag, peeked, rate, rtt, status, latency];
  void [inFlight, sameCache, memory, text, events, asError, k, short, medium, long, veryLong];
}

interface SignUp {
  email?: string;
  plan?: string;
}

/** The helpers: rate limiting, JWT revocation, drafts, the job queue. */
export async function helpers(client: Client): Promise<void> {
  const algorithm: RateLimitAlgorithm = 'sliding-window';
  const limiterOpts: RateLimiterOptions = { name: 'login', limit: 5, window: '1m', algorithm, burst: 5, onRedisError: 'local' };
  const limiter: RateLimiter = client.rateLimiter(limiterOpts);
  const result: RateLimitResult = await limiter.consume('1.2.3.4', 1);
  const allowed: boolean = result.allowed;
  const waits: number = result.retryAfterMs + result.resetMs + result.remaining + result.limit;
  const peeked: RateLimitResult = await limiter.peek('1.2.3.4');
  await limiter.reset('1.2.3.4');
  const meta: [string, number, number, RateLimitAlgorithm] = [limiter.name, limiter.limit, limiter.windowMs, limiter.algorithm];

  const blOpts: TokenBlacklistOptions = { prefix: 'jwt', onRedisError: 'deny' };
  const blacklist: TokenBlacklist = client.tokenBlacklist(blOpts);
  await blacklist.revoke({ jti: 'abc', exp: Math.floor(Date.now() / 1000) + 3600 });
  const revoked: boolean = await blacklist.isRevoked({ jti: 'abc', sub: 'user-1', iat: 1 });
  await blacklist.revokeAllForUser('user-1', { maxTokenLifetime: '1d' });

  const drafts: Drafts = client.drafts('onboarding', { ttl: '1d' });
  const saved: Draft = await drafts.save('d1', 'account', { email: 'a@b.c' }, { expectedVersion: 0 });
  const typed: Draft<SignUp> | null = await drafts.get<SignUp>('d1');
  const email: string | undefined = typed?.steps.email;
  const done: Draft<SignUp> | null = await drafts.complete<SignUp>('d1');
  const discarded: boolean = await drafts.discard('d1');
  const draftMeta: [string, number, string, number] = [saved.id, saved.version, saved.updatedAt, saved.expiresInSeconds];

  const queue: Queue = client.queue('emails');
  const id: string = await queue.push({ to: 'a@b.c' });
  const job: Job<{ to: string }> | null = await queue.pop<{ to: string }>({ timeoutMs: 1000 });
  if (job !== null) {
    const to: string = job.payload.to;
    await queue.setStatus(job.id, { state: 'sent', to }, { ttl: '1h' });
    await queue.ack(job.id);
  }
  const status = await queue.status<{ state: string }>(id);
  const state: string | undefined = status?.state;
  const queueName: string = queue.name;

  void [allowed, waits, peeked, meta, revoked, email, done, discarded, draftMeta, state, queueName];
}

/** What the types must refuse. */
export async function refused(client: Client): Promise<void> {
  // @ts-expect-error a jitter is a number
  await client.cache.set('k', 1, { jitter: '10%' });
  // @ts-expect-error onLoaderError is a function
  await client.cache.getOrSet('k', () => 1, { onLoaderError: 'log' });
  // @ts-expect-error a ttl is a number or a string
  await client.set('k', 1, { ttl: true });
  // @ts-expect-error keys are strings
  await client.get(42);
  // @ts-expect-error mget takes an array
  await client.mget('a');
  // @ts-expect-error no such option
  await createClient({ urll: 'redis://x' });
  // @ts-expect-error local is false or options, not true
  await createClient({ local: true });
  // @ts-expect-error cluster seeds are URL strings
  await createClient({ cluster: 'redis://node1:7000' });
  // @ts-expect-error a sentinel needs the master's name
  await createClient({ sentinel: { nodes: ['redis://s1:26379'] } });
  // @ts-expect-error certificate verification cannot be turned off
  await createClient({ url: 'rediss://h:1', tls: { rejectUnauthorized: false } });
  // @ts-expect-error not an error code
  new FerroError('ERR_NOPE', 'x');
  // @ts-expect-error key parts are strings or numbers
  key('a', { b: 1 });
  // @ts-expect-error TTL is read-only
  TTL.SHORT = 1;
  // @ts-expect-error cache is read-only
  client.cache = client.cache;
  // @ts-expect-error not an event
  client.on('connect', () => undefined);
  // @ts-expect-error peek is synchronous
  await client.cache.peek('k').then(() => undefined);
  // @ts-expect-error stats is synchronous
  client.stats().then(() => undefined);
  // @ts-expect-error a loader is a function
  await client.cache.getOrSet('k', 5);
  // @ts-expect-error not an algorithm
  client.rateLimiter({ name: 'x', limit: 1, window: 1, algorithm: 'leaky' });
  // @ts-expect-error a rate limiter needs a limit
  client.rateLimiter({ name: 'x', window: 1 });
  // @ts-expect-error revoke needs the token's exp
  await client.tokenBlacklist().revoke({ jti: 'a' });
}
