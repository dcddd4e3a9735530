/**
 * Write-behind on a miss (getOrSet answers before its SET is acknowledged, the write finishing in
 * the background, reported when it fails, waited for by close()) and TTL jitter, with their
 * options and the client-wide `cache` defaults. On every backend.
 */
import { createClient } from '../index';
import type { ClientOptions, FerroError } from '../index';
import { clusterNodeUrls, conformanceScope, deferred, expectFerroError, expectRejectsWith, redisCli, relaxed, startRedis, testClusterUrl } from './helpers';
import type { RedisServer, TestBackend } from './helpers';
import { startCluster } from './setup/redis-cluster';
import type { RedisCluster } from './setup/redis-cluster';

/**
 * Servers of this file alone: its tests hold up every write of a server (CLIENT PAUSE WRITE),
 * which would stall the other test files sharing the run's Redis and Cluster.
 */
let ownRedis: RedisServer | undefined;
let ownCluster: RedisCluster | undefined;
beforeAll(async () => {
  ownRedis = await startRedis();
  if (testClusterUrl() !== undefined) ownCluster = await startCluster();
}, 90_000);
afterAll(async () => {
  await Promise.all([ownRedis?.stop(), ownCluster?.stop()]);
});

const own = <T extends { url: string }>(server: T | undefined): string => {
  if (server === undefined) throw new Error('write-behind.spec: its servers start in beforeAll');
  return server.url;
};
const BACKENDS: TestBackend[] = [
  { name: 'redis', get url() { return own(ownRedis); } },
  { name: 'memory', url: `memory://wb-${process.pid}` },
  ...(testClusterUrl() === undefined ? [] : [{ name: 'cluster' as const, get url() { return own(ownCluster); } }]),
];

describe.each(BACKENDS)('$name', (backend) => {
  const { open, full, inspect } = conformanceScope(backend, 'wb');
  const stored = async (k: string): Promise<unknown> => {
    const raw = await inspect().cli('GET', full(k));
    return raw === '' ? null : JSON.parse(raw);
  };

  /**
   * Holds up every write of the server(s) (CLIENT PAUSE WRITE; on Cluster every master, so the
   * key's own too) until the returned function is called. Reads go on meanwhile. The pause's own
   * length is only a bound in case the test dies.
   */
  async function pauseWrites(): Promise<() => Promise<void>> {
    const nodes = backend.name === 'cluster' ? clusterNodeUrls(backend.url) : [backend.url];
    await Promise.all(nodes.map((n) => redisCli(n, 'CLIENT', 'PAUSE', '5000', 'WRITE')));
    return async () => {
      await Promise.all(nodes.map((n) => redisCli(n, 'CLIENT', 'UNPAUSE')));
    };
  }

  describe('write-behind', () => {
    test('a miss resolves before its write is acknowledged, and the value is stored afterwards', async () => {
      const c = await open();
      const reader = await open({ local: false });
      const resume = backend.name === 'memory' ? undefined : await pauseWrites();
      try {
        expect(await c.cache.getOrSet('menu', async () => ({ dishes: ['soup'] }))).toEqual({ dishes: ['soup'] });
        // L1 holds the value at once; with the server's writes held up, Redis does not yet (reads go on).
        expect(c.cache.peek('menu')).toEqual({ dishes: ['soup'] });
        if (resume !== undefined) expect(await reader.get('menu')).toBeNull();
      } finally {
        await resume?.();
      }
      await c.cache.drained();
      expect(await stored('menu')).toEqual({ dishes: ['soup'] });
      expect(c.cache.peek('menu')).toEqual({ dishes: ['soup'] });
    });

    test('an invalidation issued right after a miss covers its background write', async () => {
      const c = await open({ local: false });
      // The miss's SET and SADD are held up by the pause; the invalidation is issued meanwhile.
      const resume = backend.name === 'memory' ? undefined : await pauseWrites();
      let invalidated: Promise<number>;
      try {
        expect(await c.cache.getOrSet('tagged', async () => 1, { tags: ['t'] })).toBe(1);
        invalidated = c.cache.invalidateTags(['t']);
        // Let the invalidation reach the server (its reads are not paused) before the writes resume.
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        await resume?.();
      }
      expect(await invalidated!).toBe(1);
      expect(await stored('tagged')).toBeNull();
      expect(await c.cache.getOrSet('matched', async () => 2)).toBe(2);
      expect(await c.cache.invalidate('matched')).toBe(1);
      expect(await stored('matched')).toBeNull();
    });

    test('callers arriving during the background write share the one loader call (without L1 too)', async () => {
      const c = await open({ local: false });
      const loader = jest.fn(async () => 'v1');
      const before = c.cache.stats();
      const resume = backend.name === 'memory' ? undefined : await pauseWrites();
      let later: string[] = [];
      try {
        expect(await c.cache.getOrSet('k', loader)).toBe('v1');
        // Still unwritten (on Redis, a GET now would miss), no L1: these share the value in flight.
        later = await Promise.all(Array.from({ length: 20 }, () => c.cache.getOrSet('k', loader)));
      } finally {
        await resume?.();
      }
      expect(later).toEqual(Array(20).fill('v1'));
      expect(loader).toHaveBeenCalledTimes(1);
      const after = c.cache.stats();
      // One read of Redis in all: the sharing callers did not read it again.
      expect(after.misses - before.misses).toBe(1);
      expect(after.remoteHits - before.remoteHits).toBe(0);
      await c.cache.drained();
      expect(await stored('k')).toBe('v1');
    });

    test('a failed background write is counted and emitted, and the caller has its value', async () => {
      const c = await open();
      // The tag set's key holds a string: SADD fails (WRONGTYPE) on every backend.
      await c.set('tag:broken', 'not a set');
      const errors: FerroError[] = [];
      c.on('error', (err) => errors.push(err));
      const before = c.cache.stats();
      expect(await c.cache.getOrSet('k', async () => 42, { tags: ['broken'] })).toBe(42);
      await c.cache.drained();
      expect(errors).toHaveLength(1);
      expectFerroError(errors[0], 'ERR_REDIS');
      expect(c.cache.stats().errors - before.errors).toBe(1);
      // A failed write takes its value out of L1 again; its SET itself went through.
      expect(c.cache.peek('k')).toBeUndefined();
      expect(await stored('k')).toBe(42);
    });

    test('without an error listener a failed background write is counted, nothing thrown', async () => {
      const c = await open();
      await c.set('tag:broken', 'not a set');
      const before = c.cache.stats();
      expect(await c.cache.getOrSet('k', async () => 'v', { tags: ['broken'] })).toBe('v');
      await c.cache.drained();
      expect(c.cache.stats().errors - before.errors).toBe(1);
      expect(c.cache.peek('k')).toBeUndefined();
    });

    test('close() right after a miss waits for its write', async () => {
      const c = await open();
      const resume = backend.name === 'memory' ? undefined : await pauseWrites();
      let closed: Promise<void> | undefined;
      try {
        expect(await c.cache.getOrSet('k', async () => ({ n: 1 }), { tags: ['t'] })).toEqual({ n: 1 });
        closed = c.close();
      } finally {
        await resume?.();
      }
      await closed;
      expect(await stored('k')).toEqual({ n: 1 });
      expect(await inspect().cli('SISMEMBER', full('tag:t'), full('k'))).toBe('1');
    });

    test('a loader still running when close() starts gives its value, unwritten and unreported', async () => {
      const c = await open();
      const errors: FerroError[] = [];
      c.on('error', (err) => errors.push(err));
      const gate = deferred<string>();
      const started = deferred();
      const value = c.cache.getOrSet('k', () => {
        started.resolve();
        return gate.promise;
      });
      await started.promise;
      const closed = c.close();
      gate.resolve('late');
      expect(await value).toBe('late');
      await closed;
      expect(await stored('k')).toBeNull();
      // Closing may report the connections going; no write was attempted after close() began.
      expect(errors.filter((e) => e.code === 'ERR_CLOSED')).toEqual([]);
    });
  });

  describe('jitter', () => {
    const TTL_MS = 100_000;
    /** The PTTL of each key, read by a client of its own (no L1). */
    async function pttls(keys: string[]): Promise<number[]> {
      const reader = await open({ local: false });
      return Promise.all(keys.map(async (k) => Number(await reader.command(['PTTL', full(k)]))));
    }
    /** Each PTTL within ttl × (1 ± bound), allowing what elapsed since the write for the lower end. */
    function expectWithin(ttls: number[], bound: number): void {
      for (const t of ttls) {
        expect(t).toBeLessThanOrEqual(Math.ceil(TTL_MS * (1 + bound)));
        expect(t).toBeGreaterThan(TTL_MS * (1 - bound) - 20_000);
      }
    }

    test('1,000 entries written with one TTL get PTTLs spread within ±jitter, not all equal', async () => {
      const c = await open();
      const keys = Array.from({ length: 1000 }, (_, i) => `j${i}`);
      await Promise.all(keys.map((k, i) => (i % 2 === 0 ? c.cache.set(k, i, { ttl: '100s', jitter: 0.1 }) : c.cache.getOrSet(k, async () => i, { ttl: '100s', jitter: 0.1 }))));
      await c.close();
      const ttls = await pttls(keys);
      expectWithin(ttls, 0.1);
      // Uniform over 20 s: 1,000 draws span far more than half of it.
      expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(TTL_MS * 0.1);
      expect(new Set(ttls).size).toBeGreaterThan(1);
    });

    test('the client-wide default applies, and a call overrides it', async () => {
      const c = await open({ cache: { jitter: 0.5 } });
      const spread = Array.from({ length: 200 }, (_, i) => `d${i}`);
      const exact = Array.from({ length: 50 }, (_, i) => `e${i}`);
      await Promise.all([...spread.map((k) => c.cache.set(k, 1, { ttl: '100s' })), ...exact.map((k) => c.cache.getOrSet(k, async () => 1, { ttl: '100s', jitter: 0 }))]);
      await c.close();
      const spreadTtls = await pttls(spread);
      expectWithin(spreadTtls, 0.5);
      expect(Math.max(...spreadTtls) - Math.min(...spreadTtls)).toBeGreaterThan(TTL_MS * 0.5);
      expectWithin(await pttls(exact), 0);
    });
  });

  describe('bad options', () => {
    test.each([1, -0.1, 1.5, Number.NaN, Infinity, '0.1', null])('jitter %p is ERR_INVALID_ARGUMENT, nothing written', async (jitter) => {
      const c = await open();
      const loader = jest.fn(async () => 'v');
      await expectRejectsWith(() => c.cache.getOrSet('k', loader, { jitter: jitter as number }), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => c.cache.set('k', 'v', { jitter: jitter as number }), 'ERR_INVALID_ARGUMENT');
      expect(loader).not.toHaveBeenCalled();
      expect(await stored('k')).toBeNull();
    });

    test.each([{ jitter: 1 }, { jitter: '0.1' }, 'fast', null])('createClient({ cache: %p }) is ERR_INVALID_ARGUMENT', async (cache) => {
      await expectRejectsWith(() => createClient({ url: backend.url, keyPrefix: full(''), ...relaxed, cache: cache as ClientOptions['cache'] }), 'ERR_INVALID_ARGUMENT');
    });
  });
});
