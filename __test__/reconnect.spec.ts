/**
 * Outage and recovery, on a redis-server of this file's own (never the shared one): commands
 * fail fast while Redis is down, the cache falls back to the loader, the client reconnects by
 * itself, and nothing attempted during the outage is replayed afterwards.
 *
 * The tests run in order and share one server and one client.
 */
import { createClient } from '../index';
import type { Client, ErrorCode, FerroError } from '../index';
import { expectRejectsWith, startRedis, uniquePrefix, waitFor } from './helpers';
import type { RedisServer } from './helpers';

const OUTAGE_CODES: ErrorCode[] = ['ERR_UNAVAILABLE', 'ERR_TIMEOUT'];

let server: RedisServer;
let client: Client;
const prefix = uniquePrefix('reconnect');
const events: { name: string; args: unknown[] }[] = [];
const count = (name: string) => events.filter((e) => e.name === name).length;

beforeAll(async () => {
  server = await startRedis();
  client = await createClient({
    url: server.url,
    keyPrefix: prefix,
    // Short enough to fail fast during the outage, long enough for a loaded machine while up.
    connectTimeoutMs: 1000,
    commandTimeoutMs: 3000,
  });
  for (const name of ['ready', 'error', 'reconnecting', 'end'] as const) {
    client.on(name as 'ready', (...args: unknown[]) => {
      events.push({ name, args });
    });
  }
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

test('works while the server is up', async () => {
  expect(await client.set('a', { up: true })).toBe(true);
  expect(await client.get('a')).toEqual({ up: true });
  expect(await client.incr('counter')).toBe(1);
  await client.cache.set('cached', 'before-outage', { ttl: 300 });
  expect(client.cache.peek('cached')).toBe('before-outage');
  expect(client.stats().reconnects).toBe(0);
});

describe('while Redis is down', () => {
  beforeAll(async () => {
    await server.stop();
  });

  test('plain commands reject with ERR_UNAVAILABLE or ERR_TIMEOUT', async () => {
    await expectRejectsWith(() => client.get('a'), OUTAGE_CODES);
    await expectRejectsWith(() => client.set('a', 1), OUTAGE_CODES);
    await expectRejectsWith(() => client.mget(['a', 'b']), OUTAGE_CODES);
    await expectRejectsWith(() => client.command(['PING']), OUTAGE_CODES);
  });

  test('incr attempts during the outage reject', async () => {
    for (let i = 0; i < 5; i++) {
      await expectRejectsWith(() => client.incr('counter'), OUTAGE_CODES);
    }
    // Concurrent ones too.
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => client.incr('counter', 10)));
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      if (s.status === 'rejected') expect(OUTAGE_CODES).toContain((s.reason as FerroError).code);
    }
  });

  test('getOrSet serves the loader value and counts a cache error', async () => {
    const before = client.stats().cache.errors;
    const loader = jest.fn(() => ({ fresh: true }));
    expect(await client.cache.getOrSet('during', loader)).toEqual({ fresh: true });
    expect(loader).toHaveBeenCalledTimes(1);
    expect(client.stats().cache.errors).toBeGreaterThan(before);
    expect(client.cache.stats().errors).toBe(client.stats().cache.errors);
  });

  test('cache.get resolves null', async () => {
    expect(await client.cache.get('nothing')).toBeNull();
  });

  test("'error' and 'reconnecting' are emitted", async () => {
    await waitFor(() => count('error') > 0 && count('reconnecting') > 0, 15000, 50, "'error' and 'reconnecting' events");
    const err = events.find((e) => e.name === 'error')!.args[0] as FerroError;
    expect(err).toBeInstanceOf(Error);
    expect(typeof err.code).toBe('string');
    const info = events.find((e) => e.name === 'reconnecting')!.args[0] as { attempt: number; delayMs: number };
    expect(typeof info.attempt).toBe('number');
    expect(info.attempt).toBeGreaterThanOrEqual(1);
    expect(typeof info.delayMs).toBe('number');
    expect(info.delayMs).toBeGreaterThanOrEqual(0);
  });

  test('stats count the failures and nothing stays in flight', () => {
    const s = client.stats();
    expect(s.errors + s.timeouts).toBeGreaterThan(0);
    expect(s.inFlight).toBe(0);
  });
});

describe('after Redis comes back', () => {
  beforeAll(async () => {
    events.length = 0;
    await server.restart(); // empty: nothing is persisted
  });

  test('the client recovers by itself', async () => {
    await waitFor(
      async () => {
        await client.set('probe', 1);
        return (await client.get('probe')) === 1;
      },
      20000,
      100,
      'a successful set/get after the restart',
    );
  });

  test("'ready' is emitted again and reconnects are counted", async () => {
    await waitFor(() => count('ready') > 0, 10000, 50, "'ready' event");
    expect(client.stats().reconnects).toBeGreaterThanOrEqual(1);
  });

  test('nothing attempted during the outage was replayed', async () => {
    // The restarted server is empty: a replayed INCR would have re-created the counter.
    await client.ping();
    expect(await client.get('counter')).toBeNull();
    expect(await client.incr('counter')).toBe(1);
  });

  test('the L1 was flushed on reconnect (invalidations may have been missed)', () => {
    expect(client.cache.peek('cached')).toBeUndefined();
  });

  test('the cache works again', async () => {
    const loader = jest.fn(() => 'after');
    expect(await client.cache.getOrSet('after', loader)).toBe('after');
    expect(await client.cache.getOrSet('after', loader)).toBe('after');
    expect(loader).toHaveBeenCalledTimes(1);
  });
});
