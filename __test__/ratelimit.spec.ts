/**
 * Rate limiting: every algorithm on every backend (exact admissions under concurrency from two
 * clients, backend-agreed retryAfterMs / resetMs, peek, reset, costs, NOSCRIPT, key layout, the
 * in-process block cache, input validation); on Redis only, the Lua scripts replayed beside their
 * Rust twins, and the onRedisError policies on a server of this file's own.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createClient } from '../index';
import type { Client, RateLimitAlgorithm, RateLimiterOptions } from '../index';
import {
  backends,
  cleanupPrefixes,
  expectFerroError,
  expectRejectsWith,
  globEscape,
  inspector,
  redisCli,
  sleep,
  startRedis,
  testUrl,
  uniquePrefix,
  waitFor,
} from './helpers';
import type { Inspector, RedisServer } from './helpers';

const ALGORITHMS: RateLimitAlgorithm[] = ['fixed-window', 'sliding-window', 'token-bucket', 'gcra'];
const isBucket = (a: RateLimitAlgorithm) => a === 'token-bucket' || a === 'gcra';

const opened: Client[] = [];

/** A client of `url` (the shared Redis, or this file's memory:// store), closed after the test. */
async function openOn(url: string, keyPrefix: string): Promise<Client> {
  const client = await createClient({ url, keyPrefix, connectTimeoutMs: 500, commandTimeoutMs: 1000 });
  opened.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

/** The backend's clock (the Redis server's), in ms. */
async function serverNow(client: Client): Promise<number> {
  const [sec, usec] = (await client.command(['TIME'])) as string[];
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
}

/** Waits, when needed, so that the next `spanMs` fall inside one aligned window of the server clock. */
async function withinOneWindow(client: Client, windowMs: number, spanMs: number): Promise<void> {
  const left = windowMs - ((await serverNow(client)) % windowMs);
  if (left < spanMs) await sleep(left + 20);
}

/** The longest resetMs / retryAfterMs an algorithm reports (burst = limit). */
const longestWait = (a: RateLimitAlgorithm, windowMs: number) => (a === 'sliding-window' ? 2 * windowMs : windowMs);

describe.each(backends)('$name', (backend) => {
  const { url } = backend;
  let inspect: Inspector;
  const open = (keyPrefix: string) => openOn(url, keyPrefix);

  beforeAll(async () => {
    inspect = await inspector(backend);
  });

  afterAll(async () => {
    await inspect.close();
  });

  async function keysOf(prefix: string): Promise<string[]> {
    return inspect.scanKeys(globEscape(prefix) + '*');
  }

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    test('200 concurrent consumes from two clients admit exactly the capacity, and a window later more pass', async () => {
      const prefix = uniquePrefix('rl-concurrency');
      const [a, b] = await Promise.all([open(prefix), open(prefix)]);
      const opts: RateLimiterOptions = { name: 'login', limit: 3, window: 1, algorithm };
      if (isBucket(algorithm)) opts.burst = 5;
      const capacity = isBucket(algorithm) ? 5 : 3;
      const [la, lb] = [a.rateLimiter(opts), b.rateLimiter(opts)];
      if (!isBucket(algorithm)) await withinOneWindow(a, 1000, 500);

      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? la : lb).consume('1.2.3.4')));
      expect(results.filter((r) => r.allowed)).toHaveLength(capacity);
      for (const r of results) {
        expect(r.limit).toBe(capacity);
        if (!r.allowed) expect(r.retryAfterMs).toBeGreaterThan(0);
      }

      // The sliding window's previous window still weighs during the next one.
      await sleep(algorithm === 'sliding-window' ? 2100 : 1100);
      const [again, otherClient] = await Promise.all([la.consume('1.2.3.4'), lb.consume('1.2.3.4')]);
      expect(again.allowed).toBe(true);
      expect(otherClient.allowed).toBe(true);
    });

    test('retryAfterMs and resetMs agree with the server', async () => {
      const client = await open(uniquePrefix('rl-times'));
      const limiter = client.rateLimiter({ name: 'api', limit: 3, window: 1, algorithm });
      const longest = longestWait(algorithm, 1000);
      await withinOneWindow(client, 1000, 400);
      for (let i = 0; i < 3; i++) expect((await limiter.consume('u')).allowed).toBe(true);

      const denied = await limiter.consume('u');
      expect(denied.allowed).toBe(false);
      expect(denied.remaining).toBe(0);
      expect(denied.retryAfterMs).toBeGreaterThan(0);
      expect(denied.retryAfterMs).toBeLessThanOrEqual(longest);
      expect(denied.resetMs).toBeGreaterThanOrEqual(denied.retryAfterMs);
      expect(denied.resetMs).toBeLessThanOrEqual(longest);
      // The server still says no right away, and no later than it said.
      const peeked = await limiter.peek('u');
      expect(peeked.allowed).toBe(false);
      expect(peeked.retryAfterMs).toBeLessThanOrEqual(denied.retryAfterMs);

      await sleep(denied.retryAfterMs + 30);
      const admitted = await limiter.consume('u');
      expect(admitted.allowed).toBe(true);
      expect(admitted.retryAfterMs).toBe(0);
      expect(admitted.resetMs).toBeGreaterThan(0);
      expect(admitted.resetMs).toBeLessThanOrEqual(longest);

      await sleep(admitted.resetMs + 30);
      expect(await limiter.peek('u')).toEqual({ allowed: true, limit: 3, remaining: 3, resetMs: 0, retryAfterMs: 0 });
    });

    test('peek does not consume, costs above 1 count, a denial consumes nothing, reset restores', async () => {
      const client = await open(uniquePrefix('rl-peek'));
      const limiter = client.rateLimiter({ name: 'export', limit: 5, window: '1h', algorithm });
      const full = { allowed: true, limit: 5, remaining: 5, resetMs: 0, retryAfterMs: 0 };
      expect(await limiter.peek('p')).toEqual(full);

      const first = await limiter.consume('p', 2);
      expect(first).toMatchObject({ allowed: true, remaining: 3, retryAfterMs: 0 });
      expect(first.resetMs).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) expect(await limiter.peek('p')).toMatchObject({ allowed: true, remaining: 3 });

      const tooMuch = await limiter.consume('p', 4);
      expect(tooMuch).toMatchObject({ allowed: false, remaining: 3 });
      expect(tooMuch.retryAfterMs).toBeGreaterThan(0);
      // A smaller cost is asked of Redis again (the block cache holds the cost it saw).
      expect(await limiter.consume('p', 3)).toMatchObject({ allowed: true, remaining: 0 });
      expect(await limiter.peek('p')).toMatchObject({ allowed: false, remaining: 0 });

      await limiter.reset('p');
      expect(await limiter.peek('p')).toEqual(full);
      expect(await limiter.consume('p', 5)).toMatchObject({ allowed: true, remaining: 0 });
    });

    test('keeps working after SCRIPT FLUSH (NOSCRIPT falls back to EVAL)', async () => {
      const client = await open(uniquePrefix('rl-noscript'));
      const limiter = client.rateLimiter({ name: 'flush', limit: 3, window: '1h', algorithm });
      expect(await limiter.consume('a')).toMatchObject({ allowed: true, remaining: 2 });
      await client.command(['SCRIPT', 'FLUSH']);
      expect(await limiter.consume('a')).toMatchObject({ allowed: true, remaining: 1 });
      expect(await limiter.consume('a')).toMatchObject({ allowed: true, remaining: 0 });
    });

    test('keys are hash-tagged per name and id, and carry a TTL', async () => {
      const prefix = uniquePrefix('rl-keys');
      const client = await open(prefix);
      const limiter = client.rateLimiter({ name: 'api', limit: 3, window: 2, algorithm });
      const ids = ['1.2.3.4', 'user:42', '2001:db8::1'];
      for (const id of ids) await limiter.consume(id);
      await limiter.peek('only-peeked');
      await limiter.consume('denied', 3);
      await limiter.consume('denied', 1);

      const keys = await keysOf(prefix);
      expect(keys.sort()).toEqual([...ids, 'denied'].map((id) => `${prefix}ratelimit:{api:${id}}`).sort());
      for (const key of keys) {
        const pttl = Number(await inspect.cli('PTTL', key));
        expect(pttl).toBeGreaterThan(0);
        expect(pttl).toBeLessThanOrEqual(longestWait(algorithm, 2000));
      }
    });

    test('a denied id is answered in-process until retryAfterMs passes', async () => {
      const client = await open(uniquePrefix('rl-block'));
      const limiter = client.rateLimiter({ name: 'login', limit: 2, window: '1h', algorithm });
      await limiter.consume('b');
      await limiter.consume('b');
      const denied = await limiter.consume('b');
      expect(denied.allowed).toBe(false);

      const before = client.stats().commands;
      for (let i = 0; i < 5; i++) {
        const again = await limiter.consume('b');
        expect(again.allowed).toBe(false);
        expect(again.remaining).toBe(0);
        expect(again.retryAfterMs).toBeGreaterThan(0);
        expect(again.retryAfterMs).toBeLessThanOrEqual(denied.retryAfterMs);
      }
      expect(client.stats().commands).toBe(before);

      // Other ids, other costs and peeks still ask Redis: each sends commands (how many depends
      // on the call: a fixed-window consume of cost 1 is INCRBY + PTTL, plus one script call
      // when it opens a window).
      const asksRedis = async <T>(call: () => Promise<T>): Promise<T> => {
        const sent = client.stats().commands;
        const result = await call();
        expect(client.stats().commands).toBeGreaterThan(sent);
        return result;
      };
      expect((await asksRedis(() => limiter.consume('c'))).allowed).toBe(true);
      expect((await asksRedis(() => limiter.consume('b', 2))).allowed).toBe(false);
      expect((await asksRedis(() => limiter.peek('b'))).allowed).toBe(false);
      // reset forgets the block too.
      await limiter.reset('b');
      expect((await limiter.consume('b')).allowed).toBe(true);
    });
  });

  describe('bad input', () => {
    const ok: RateLimiterOptions = { name: 'api', limit: 5, window: 1 };
    const badOptions: [string, unknown][] = [
      ['no options', undefined],
      ['null options', null],
      ['an empty name', { ...ok, name: '' }],
      ['a non-string name', { ...ok, name: 42 }],
      ['no limit', { ...ok, limit: undefined }],
      ['a zero limit', { ...ok, limit: 0 }],
      ['a negative limit', { ...ok, limit: -1 }],
      ['a fractional limit', { ...ok, limit: 1.5 }],
      ['a NaN limit', { ...ok, limit: NaN }],
      ['a string limit', { ...ok, limit: '5' }],
      ['no window', { ...ok, window: undefined }],
      ['a zero window', { ...ok, window: 0 }],
      ['a negative window', { ...ok, window: -1 }],
      ['a NaN window', { ...ok, window: NaN }],
      ['a window that is not a duration', { ...ok, window: 'soon' }],
      ['an unknown algorithm', { ...ok, algorithm: 'leaky-bucket' }],
      ['a null algorithm', { ...ok, algorithm: null }],
      ['a zero burst', { ...ok, algorithm: 'token-bucket', burst: 0 }],
      ['a fractional burst', { ...ok, algorithm: 'gcra', burst: 2.5 }],
      ['a burst on a fixed window', { ...ok, burst: 5 }],
      ['a burst on a sliding window', { ...ok, algorithm: 'sliding-window', burst: 5 }],
      ['an unknown onRedisError', { ...ok, onRedisError: 'ignore' }],
      ['a zero localMaxIds', { ...ok, localMaxIds: 0 }],
      ['a fractional localMaxIds', { ...ok, localMaxIds: 2.5 }],
      ['a string localMaxIds', { ...ok, localMaxIds: '100' }],
      ['localMaxIds without the local fallback', { ...ok, onRedisError: 'deny', localMaxIds: 100 }],
      ['limit × window beyond 2^50', { ...ok, limit: 2 ** 40, window: '1d' }],
    ];

    test.each(badOptions)('rateLimiter() rejects %s', async (_, opts) => {
      const client = await open(uniquePrefix('rl-bad'));
      let thrown: unknown;
      try {
        client.rateLimiter(opts as RateLimiterOptions);
      } catch (err) {
        thrown = err;
      }
      expectFerroError(thrown, 'ERR_INVALID_ARGUMENT');
    });

    test('consume, peek and reset reject bad ids and costs and write nothing', async () => {
      const prefix = uniquePrefix('rl-bad-calls');
      const client = await open(prefix);
      const windows = client.rateLimiter({ name: 'w', limit: 5, window: 1 });
      const bucket = client.rateLimiter({ name: 'b', limit: 5, window: 1, algorithm: 'token-bucket', burst: 2 });
      const badIds: unknown[] = ['', undefined, null, 42, {}, ['a']];
      for (const id of badIds) {
        await expectRejectsWith(() => windows.consume(id as string), 'ERR_INVALID_ARGUMENT');
        await expectRejectsWith(() => windows.peek(id as string), 'ERR_INVALID_ARGUMENT');
        await expectRejectsWith(() => windows.reset(id as string), 'ERR_INVALID_ARGUMENT');
      }
      const badCosts: unknown[] = [0, -1, 1.5, NaN, Infinity, '1', null, 6];
      for (const cost of badCosts) {
        await expectRejectsWith(() => windows.consume('id', cost as number), 'ERR_INVALID_ARGUMENT');
      }
      // The bucket's capacity is its burst.
      await expectRejectsWith(() => bucket.consume('id', 3), 'ERR_INVALID_ARGUMENT');
      expect((await bucket.consume('other', 2)).allowed).toBe(true);
      expect(await keysOf(prefix)).toEqual([`${prefix}ratelimit:{b:other}`]);
    });

    test('a closed client rejects with ERR_CLOSED', async () => {
      const client = await open(uniquePrefix('rl-closed'));
      const limiter = client.rateLimiter({ name: 'c', limit: 1, window: 1, onRedisError: 'allow' });
      await client.close();
      await expectRejectsWith(() => limiter.consume('x'), 'ERR_CLOSED');
      await expectRejectsWith(() => limiter.peek('x'), 'ERR_CLOSED');
    });
  });
});

describe('Redis only: the Lua scripts beside their Rust twins', () => {
  const url = testUrl();
  const open = (keyPrefix: string) => openOn(url, keyPrefix);

  afterAll(async () => {
    await cleanupPrefixes(url);
  });

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    // (The fixed window's script reads its window from the key's TTL: it has a real-clock test below.)
    if (algorithm === 'fixed-window') return;
    test('the Lua script and its Rust twin give the same answers on one fake clock', async () => {
      const prefix = uniquePrefix('rl-twins');
      const client = await open(prefix);
      const native = nativeOf(client);
      // Time comes from ARGV instead of TIME; Redis' own expiry does not follow that clock, so the
      // replayed script sets no TTL (an expired state reads like a missing one: see the Rust tests).
      const faked = replaceOnce(
        replaceOnce(scriptOf(algorithm), "redis.call('TIME')", '{ ARGV[6], ARGV[7] }'),
        /\n\s*redis\.call\('PEXPIREAT'[^\n]*/,
        '',
      );
      const below = lcg(0x9e3779b9);
      for (const [limit, windowMs, burst] of [
        [3, 1000, 5],
        [7, 999, 7],
        [10, 60000, 4],
      ]) {
        const capacity = isBucket(algorithm) ? burst : limit;
        const key = `${prefix}ratelimit:{twins:${limit}-${windowMs}}`;
        const spec = { algorithm, limit, windowMs, burst: capacity };
        let now = 1_700_000_000_000 + below(windowMs);
        for (let step = 0; step < 250; step++) {
          const pick = below(10);
          now += pick < 4 ? 0 : pick < 9 ? below(Math.floor(windowMs / 4) + 1) : below(3 * windowMs);
          const cost = 1 + below(Math.min(capacity, 4));
          const peek = below(6) === 0;
          const lua = await client.command([
            'EVAL', faked, '1', key,
            String(limit), String(windowMs), String(capacity), String(cost), peek ? '1' : '0',
            String(Math.floor(now / 1000)), String((now % 1000) * 1000),
          ]);
          const rust = native.rateLimitLocal(spec, key, cost, peek, now);
          expect({ step, now, cost, peek, result: rust }).toEqual({ step, now, cost, peek, result: lua });
        }
      }
    });
  });

  test('the fixed-window script and its Rust twin agree on the real clock', async () => {
    // The script takes its window from the key's TTL, which runs on Redis' own clock: no fake
    // clock here, so one long window, with resets to start new ones (the Rust unit tests pin the
    // window boundaries). Both read this machine's clock: times agree within a margin.
    const prefix = uniquePrefix('rl-twins-fixed');
    const client = await open(prefix);
    const native = nativeOf(client);
    const code = scriptOf('fixed-window');
    const [limit, windowMs] = [7, 3_600_000];
    const spec = { algorithm: 'fixed-window', limit, windowMs, burst: limit };
    const key = `${prefix}ratelimit:{twins:fixed}`;
    const below = lcg(0x5eed);
    await withinOneWindow(client, windowMs, 60_000);
    for (let step = 0; step < 300; step++) {
      if (below(25) === 0) {
        await client.command(['DEL', key]);
        native.rateLimitLocalReset(key);
      }
      const cost = 1 + below(4);
      const peek = below(6) === 0;
      const args = [String(limit), String(windowMs), String(limit), String(cost), peek ? '1' : '0'];
      const [allowed, remaining, resetMs, retryAfterMs] = (await client.command(['EVAL', code, '1', key, ...args])) as number[];
      const rust = native.rateLimitLocal(spec, key, cost, peek);
      expect({ step, allowed: rust[0], remaining: rust[1] }).toEqual({ step, allowed, remaining });
      expect(Math.abs(rust[2] - resetMs)).toBeLessThanOrEqual(1000);
      expect(Math.abs(rust[3] - retryAfterMs)).toBeLessThanOrEqual(1000);
    }
  });
});

interface NativeRateLimit {
  rateLimitLocal(
    spec: { algorithm: string; limit: number; windowMs: number; burst: number },
    key: string,
    cost: number,
    peek: boolean,
    nowMs?: number,
  ): number[];
  rateLimitLocalReset(key: string): void;
}

/** The native half of a client: the local limiter, run on the test's own clock. */
const nativeOf = (client: Client) => (client as unknown as { _native: NativeRateLimit })._native;

const scriptOf = (algorithm: RateLimitAlgorithm) =>
  fs.readFileSync(path.join(__dirname, '..', 'src', 'features', 'ratelimit', `ratelimit_${algorithm.replace('-', '_')}.lua`), 'utf8');

/** A seeded generator of integers below n, so a failing sequence can be replayed. */
function lcg(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
}

function replaceOnce(text: string, search: string | RegExp, by: string): string {
  const hits = typeof search === 'string' ? text.split(search).length - 1 : (text.match(new RegExp(search, 'g')) ?? []).length;
  expect(hits).toBe(1);
  return text.replace(search, by);
}

describe('Redis only: onRedisError, on a server of this file that stops', () => {
  let server: RedisServer;
  let client: Client;
  const prefix = uniquePrefix('rl-outage');

  beforeAll(async () => {
    server = await startRedis();
    client = await createClient({ url: server.url, keyPrefix: prefix, connectTimeoutMs: 500, commandTimeoutMs: 500 });
  });

  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  test('allow admits, deny denies, local limits per process; after a restart Redis limits again', async () => {
    const allow = client.rateLimiter({ name: 'allow', limit: 1, window: '1h', onRedisError: 'allow' });
    const deny = client.rateLimiter({ name: 'deny', limit: 1, window: '1h', onRedisError: 'deny' });
    const local = ALGORITHMS.map((algorithm) => client.rateLimiter({ name: algorithm, limit: 3, window: '1h', algorithm }));
    expect((await allow.consume('x')).allowed).toBe(true);
    expect((await deny.consume('x')).allowed).toBe(true);

    await server.stop();
    for (let i = 0; i < 3; i++) {
      expect(await allow.consume('x')).toMatchObject({ allowed: true, retryAfterMs: 0 });
      const denied = await deny.consume('y');
      expect(denied).toMatchObject({ allowed: false, remaining: 0 });
      expect(denied.retryAfterMs).toBeGreaterThan(0);
    }
    for (const limiter of local) {
      expect(await limiter.peek('x')).toMatchObject({ allowed: true, remaining: 3 });
      for (const left of [2, 1, 0]) expect(await limiter.consume('x')).toMatchObject({ allowed: true, remaining: left });
      const denied = await limiter.consume('x');
      expect(denied).toMatchObject({ allowed: false, remaining: 0 });
      expect(denied.retryAfterMs).toBeGreaterThan(0);
      expect(await limiter.peek('x')).toMatchObject({ allowed: false, remaining: 0 });
    }

    await server.restart();
    await waitFor(() => client.ping().then(() => true), 15000, 100, 'reconnection');
    // The restarted server is empty: Redis admits again where the local limiter would not.
    for (const limiter of local) {
      expect(await limiter.consume('x')).toMatchObject({ allowed: true, remaining: 2 });
      expect(await redisCli(server.url, 'EXISTS', `${prefix}ratelimit:{${limiter.name}:x}`)).toBe('1');
    }
    expect(await deny.consume('y')).toMatchObject({ allowed: true, remaining: 0 });
  });

  test('localMaxIds bounds the local table of one limiter name: its least recently used id is dropped first, other names keep theirs', async () => {
    const small = client.rateLimiter({ name: 'small', limit: 1, window: '1h', localMaxIds: 2 });
    const other = client.rateLimiter({ name: 'other', limit: 1, window: '1h', localMaxIds: 2 });
    await server.stop();
    try {
      const allowed = async (limiter: typeof small, id: string) => (await limiter.consume(id)).allowed;
      expect(await allowed(other, 'victim')).toBe(true);
      expect(await allowed(small, 'victim')).toBe(true);
      expect(await allowed(small, 'a')).toBe(true);
      expect(await allowed(small, 'victim')).toBe(false);
      // A third id: the table holds two, and 'a' was used least recently, so the victim stays.
      expect(await allowed(small, 'b')).toBe(true);
      expect(await allowed(small, 'victim')).toBe(false);
      // Two new ids since the victim's last call: its count was dropped and starts again.
      expect(await allowed(small, 'c')).toBe(true);
      expect(await allowed(small, 'd')).toBe(true);
      expect(await allowed(small, 'victim')).toBe(true);
      // Rotating ids through 'small' left the other name's table alone.
      expect(await allowed(other, 'victim')).toBe(false);
    } finally {
      await server.restart();
      await waitFor(() => client.ping().then(() => true), 15000, 100, 'reconnection');
    }
  });
});
