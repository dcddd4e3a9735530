/**
 * Grace, stale-while-revalidate and loader timeouts (issue #14, second slice): a stale value
 * served when the loader fails or overruns, kept `graceBackoff` longer; a deleted value never
 * served; `hardTimeout` rejecting with ERR_LOADER_TIMEOUT while the loader still fills the cache;
 * bad options refused at the call. On every backend. Time passes through short TTLs and waits on
 * conditions, never through assertions on timing.
 */
import { createClient } from '../index';
import type { CacheOptions, Client, FerroError } from '../index';
import { backends, conformanceScope, deferred, expectFerroError, expectRejectsWith, relaxed, waitFor } from './helpers';

/** Fresh for 200 ms, then stale for a minute: the tests run inside the grace. */
const GRACE: CacheOptions = { ttl: '200ms', grace: '60s', graceBackoff: '60s' };
const GRACE_MS = 60_000;

describe.each(backends)('$name', (backend) => {
  const { open, full, inspect } = conformanceScope(backend, 'grace');
  const stored = async (k: string): Promise<unknown> => {
    const raw = await inspect().cli('GET', full(k));
    return raw === '' ? null : JSON.parse(raw);
  };
  const failing = (): jest.Mock => jest.fn(async () => {
    throw new Error('the database is down');
  });

  /** Writes `value` with GRACE and waits until it is stale, in Redis and in the client's L1. */
  async function staleEntry(c: Client, k: string, value: unknown): Promise<void> {
    expect(await c.cache.getOrSet(k, async () => value, GRACE)).toEqual(value);
    await c.cache.drained();
    await waitFor(async () => c.cache.peek(k) === undefined && Number(await inspect().cli('PTTL', full(k))) <= GRACE_MS, 10_000, 20, 'the entry is stale');
  }

  describe('hardTimeout', () => {
    test('a loader overrunning it rejects with ERR_LOADER_TIMEOUT and still fills the cache when it ends', async () => {
      const c = await open();
      const late = deferred<string>();
      await expectRejectsWith(() => c.cache.getOrSet('k', () => late.promise, { hardTimeout: '50ms' }), 'ERR_LOADER_TIMEOUT');
      expect(await stored('k')).toBeNull();
      late.resolve('late');
      await waitFor(async () => (await stored('k')) === 'late', 10_000, 20, 'the late value is stored');
      const again = jest.fn(async () => 'other');
      expect(await c.cache.getOrSet('k', again)).toBe('late');
      expect(again).not.toHaveBeenCalled();
    });

    test('a client-wide hardTimeout applies, and a loader within it answers as usual', async () => {
      const c = await open({ cache: { hardTimeout: '50ms' } });
      await expectRejectsWith(() => c.cache.getOrSet('slow', () => new Promise<string>(() => undefined)), 'ERR_LOADER_TIMEOUT');
      expect(await c.cache.getOrSet('quick', async () => 'v')).toBe('v');
    });

    test('the late loader failure goes to onLoaderError and is counted, never unhandled', async () => {
      const c = await open();
      const late = deferred<string>();
      const seen: Array<[unknown, string]> = [];
      const before = c.cache.stats();
      const opts: CacheOptions = { hardTimeout: '50ms', onLoaderError: (err, key) => seen.push([err, key]) };
      await expectRejectsWith(() => c.cache.getOrSet('k', () => late.promise, opts), 'ERR_LOADER_TIMEOUT');
      const boom = new Error('late failure');
      late.reject(boom);
      await waitFor(() => seen.length === 1, 10_000, 20, 'onLoaderError called');
      expect(seen[0]).toEqual([boom, 'k']);
      expect(c.cache.stats().errors - before.errors).toBe(1);
      expect(await stored('k')).toBeNull();
    });

    test('without onLoaderError the late failure is emitted as an error event', async () => {
      const c = await open();
      const errors: FerroError[] = [];
      c.on('error', (err) => errors.push(err));
      const late = deferred<string>();
      await expectRejectsWith(() => c.cache.getOrSet('k', () => late.promise, { hardTimeout: '50ms' }), 'ERR_LOADER_TIMEOUT');
      const boom = new Error('late failure');
      late.reject(boom);
      await waitFor(() => errors.length === 1, 10_000, 20, 'error emitted');
      expectFerroError(errors[0], 'ERR_LOADER_FAILED');
      expect(errors[0].cause).toBe(boom);
    });
  });

  describe('grace', () => {
    test('an entry lives ttl + grace in Redis', async () => {
      const c = await open();
      await c.cache.getOrSet('k', async () => 'v', { ttl: '10s', grace: '60s' });
      await c.cache.drained();
      expect(Number(await inspect().cli('PTTL', full('k')))).toBeGreaterThan(10_000);
    });

    test('a stale key calls the loader and gets its fresh value', async () => {
      const c = await open();
      await staleEntry(c, 'k', 'old');
      const loader = jest.fn(async () => 'new');
      expect(await c.cache.getOrSet('k', loader, { ...GRACE, ttl: '60s' })).toBe('new');
      expect(loader).toHaveBeenCalledTimes(1);
      await c.cache.drained();
      expect(c.cache.peek('k')).toBe('new');
      expect(await stored('k')).toBe('new');
      expect(c.cache.stats().staleServed).toBe(0);
    });

    test('a loader that throws after expiry gets the stale value, reported, and no loader call within graceBackoff', async () => {
      const c = await open();
      await staleEntry(c, 'k', { price: 3 });
      const errors: FerroError[] = [];
      c.on('error', (err) => errors.push(err));
      const before = c.cache.stats();
      const loader = failing();
      expect(await c.cache.getOrSet('k', loader, GRACE)).toEqual({ price: 3 });
      expect(loader).toHaveBeenCalledTimes(1);
      expect(errors).toHaveLength(1);
      expectFerroError(errors[0], 'ERR_LOADER_FAILED');
      const after = c.cache.stats();
      expect(after.errors - before.errors).toBe(1);
      expect(after.staleServed - before.staleServed).toBe(1);
      expect(c.stats().cache.staleServed).toBe(after.staleServed);
      // Backed off: the next calls are served without the loader.
      expect(await c.cache.getOrSet('k', loader, GRACE)).toEqual({ price: 3 });
      expect(loader).toHaveBeenCalledTimes(1);
      // Another process (no L1 of its own) sees the backoff in Redis too.
      await c.cache.drained();
      const other = await open({ local: false });
      const otherLoader = failing();
      expect(await other.cache.getOrSet('k', otherLoader, GRACE)).toEqual({ price: 3 });
      expect(otherLoader).not.toHaveBeenCalled();
    });

    test('the stale value is served without L1 too (read from Redis)', async () => {
      const c = await open({ local: false });
      expect(await c.cache.getOrSet('k', async () => 'old', GRACE)).toBe('old');
      await c.cache.drained();
      await waitFor(async () => Number(await inspect().cli('PTTL', full('k'))) <= GRACE_MS, 10_000, 20, 'the entry is stale');
      const seen: unknown[] = [];
      expect(await c.cache.getOrSet('k', failing(), { ...GRACE, onLoaderError: (err) => seen.push(err) })).toBe('old');
      expect(seen).toHaveLength(1);
    });

    test.each(['delete', 'invalidate', 'invalidateTags'] as const)('a key removed by %s is never served stale', async (how) => {
      const c = await open();
      expect(await c.cache.getOrSet('k', async () => 'old', { ...GRACE, tags: ['t'] })).toBe('old');
      await c.cache.drained();
      await waitFor(() => c.cache.peek('k') === undefined, 10_000, 20, 'the entry is stale');
      if (how === 'delete') await c.cache.delete('k');
      else if (how === 'invalidate') await c.cache.invalidate('k');
      else await c.cache.invalidateTags(['t']);
      const boom = new Error('the database is down');
      await expect(c.cache.getOrSet('k', async () => {
        throw boom;
      }, GRACE)).rejects.toBe(boom);
      expect(c.cache.stats().staleServed).toBe(0);
    });

    test.each([['with L1', {}], ['without L1', { local: false as const }]])('a key deleted while its loader runs is not served stale when the loader fails (%s)', async (_name, local) => {
      const c = await open(local);
      await staleEntry(c, 'k', 'old');
      const load = deferred<string>();
      let started = false;
      const pending = c.cache.getOrSet('k', () => {
        started = true;
        return load.promise;
      }, GRACE);
      await waitFor(() => started, 10_000, 10, 'the loader started');
      await c.cache.delete('k');
      const boom = new Error('the database is down');
      load.reject(boom);
      await expect(pending).rejects.toBe(boom);
    });
  });

  describe('stale-while-revalidate (soft timeout)', () => {
    test('timeout 0: the stale value at once, the loader refreshes the entry in the background', async () => {
      const c = await open();
      await staleEntry(c, 'k', 'old');
      const load = deferred<string>();
      const loader = jest.fn(() => load.promise);
      // The refreshed entry is fresh for a minute: the calls below find it so.
      const opts: CacheOptions = { ...GRACE, ttl: '60s', timeout: 0 };
      const before = c.cache.stats().staleServed;
      expect(await c.cache.getOrSet('k', loader, opts)).toBe('old');
      // Callers meanwhile share the refresh under way.
      expect(await c.cache.getOrSet('k', loader, opts)).toBe('old');
      expect(loader).toHaveBeenCalledTimes(1);
      // Served stale once; the second caller shared that answer.
      expect(c.cache.stats().staleServed - before).toBe(1);
      load.resolve('new');
      await waitFor(() => c.cache.peek('k') === 'new', 10_000, 20, 'the refreshed value is in L1');
      await c.cache.drained();
      expect(await stored('k')).toBe('new');
      expect(await c.cache.getOrSet('k', loader, opts)).toBe('new');
      expect(loader).toHaveBeenCalledTimes(1);
    });

    test('a loader within the soft timeout answers with its fresh value', async () => {
      const c = await open();
      await staleEntry(c, 'k', 'old');
      expect(await c.cache.getOrSet('k', async () => 'new', { ...GRACE, timeout: '10s' })).toBe('new');
    });

    test('a background refresh that fails is reported, never unhandled', async () => {
      const c = await open();
      await staleEntry(c, 'k', 'old');
      const load = deferred<string>();
      const seen: unknown[] = [];
      expect(await c.cache.getOrSet('k', () => load.promise, { ...GRACE, timeout: 0, onLoaderError: (err) => seen.push(err) })).toBe('old');
      const boom = new Error('refresh failed');
      load.reject(boom);
      await waitFor(() => seen.length === 1, 10_000, 20, 'onLoaderError called');
      expect(seen[0]).toBe(boom);
    });
  });

  describe('bad options', () => {
    test.each<[string, CacheOptions]>([
      ['grace: -1', { grace: -1 }],
      ['grace: "soon"', { grace: 'soon' }],
      ['graceBackoff: 0', { graceBackoff: 0 }],
      ['hardTimeout: 0', { hardTimeout: 0 }],
      ['timeout above hardTimeout', { timeout: '2s', hardTimeout: '1s' }],
      ['timeout: -5', { timeout: -5 }],
      ['onLoaderError not a function', { onLoaderError: 'log' as unknown as () => void }],
    ])('%s: ERR_INVALID_ARGUMENT at the call, nothing loaded or written', async (_name, opts) => {
      const c = await open();
      const loader = jest.fn(async () => 'v');
      await expectRejectsWith(() => c.cache.getOrSet('k', loader, opts), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => c.cache.set('k', 'v', opts), 'ERR_INVALID_ARGUMENT');
      expect(loader).not.toHaveBeenCalled();
      expect(await stored('k')).toBeNull();
    });

    test('a bad client-wide default is refused by createClient', async () => {
      const err = await createClient({ url: backend.url, ...relaxed, cache: { grace: -1 } }).then(
        async (c) => {
          await c.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expectFerroError(err, 'ERR_INVALID_ARGUMENT');
    });
  });
});
