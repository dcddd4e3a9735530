/**
 * L1 coherence across clients (`local.coherence`): with 'tracking' (the default), a key changed
 * anywhere leaves every other L1 — another Node process, redis-cli, pattern and tag invalidation
 * — and the L1 is flushed when the connection is lost; with 'ttl' nothing is tracked.
 * On memory://, the clients of one named store follow each other the same way.
 *
 * Waits are for outcomes (`waitFor`, generous bounds), never timings.
 */
import { createClient } from '../index';
import type { Client, ClientOptions } from '../index';
import { spawnPeer } from './peer';
import type { Peer } from './peer';
import { cleanupPrefixes, expectRejectsWith, redisCli, relaxed, startRedis, testUrl, uniquePrefix, waitFor } from './helpers';
import type { RedisServer } from './helpers';

const WAIT_MS = 15_000;


describe('two processes sharing one Redis', () => {
  const url = testUrl();
  let prefix: string;
  let client: Client;
  let peer: Peer;

  beforeEach(async () => {
    prefix = uniquePrefix('coherence');
    client = await createClient({ url, keyPrefix: prefix, ...relaxed });
    peer = await spawnPeer({ url, keyPrefix: prefix, ...relaxed });
  });

  afterEach(async () => {
    await Promise.all([client?.close(), peer?.close()]);
  });

  afterAll(async () => {
    await cleanupPrefixes(url);
  });

  const evicted = (key: string) => waitFor(async () => (await peer.call('peek', key)) === undefined, WAIT_MS, 20, `${key} evicted`);

  test('a write in this process evicts the copy in the other', async () => {
    expect(await peer.call('getOrSet', 'menu', { v: 1 })).toEqual({ v: 1 });
    expect(await peer.call('peek', 'menu')).toEqual({ v: 1 });
    await client.set('menu', { v: 2 });
    await evicted('menu');
    expect(await peer.call('getOrSet', 'menu', { v: 'loader' })).toEqual({ v: 2 });
    // Tracking is back for the new copy: a second write evicts it too.
    await client.cache.set('menu', { v: 3 });
    await evicted('menu');
    expect(await peer.call('get', 'menu')).toEqual({ v: 3 });
  });

  test('a redis-cli SET or DEL evicts the copy', async () => {
    await peer.call('getOrSet', 'k', 'cached');
    await redisCli(url, 'SET', prefix + 'k', '"from-cli"');
    await evicted('k');
    expect(await peer.call('get', 'k')).toBe('from-cli');
    expect(await peer.call('peek', 'k')).toBe('from-cli');
    await redisCli(url, 'DEL', prefix + 'k');
    await evicted('k');
  });

  test("invalidate('p:*') in one process empties the matching entries of the other", async () => {
    for (const k of ['p:1', 'p:2', 'q:1']) await peer.call('getOrSet', k, k);
    expect(await client.cache.invalidate('p:*')).toBe(2);
    await evicted('p:1');
    await evicted('p:2');
    expect(await peer.call('peek', 'q:1')).toBe('q:1');
  });

  test('invalidateTags in one process empties the tagged entries of the other', async () => {
    await peer.call('getOrSet', 'dish:1', 'soup', { tags: ['menu'] });
    await peer.call('getOrSet', 'dish:2', 'cake', { tags: ['menu', 'dessert'] });
    await peer.call('getOrSet', 'chef', 'anna', { tags: ['staff'] });
    expect(await client.cache.invalidateTags(['menu'])).toBe(2);
    await evicted('dish:1');
    await evicted('dish:2');
    expect(await peer.call('peek', 'chef')).toBe('anna');
  });

  test("this client's own writes keep its fresh copy (NOLOOP)", async () => {
    await client.cache.set('mine', 'written-here');
    await client.cache.getOrSet('barrier', () => 'cached');
    // Invalidations reach a client in order: once the later write's has come, the earlier would have too.
    await redisCli(url, 'SET', prefix + 'barrier', '"changed"');
    await waitFor(() => client.cache.peek('barrier') === undefined, WAIT_MS, 20, 'barrier evicted');
    expect(client.cache.peek('mine')).toBe('written-here');
  });
});

describe('tracking on the server', () => {
  const url = testUrl();
  const clients: Client[] = [];
  const open = async (options: ClientOptions) => {
    const c = await createClient({ url, keyPrefix: uniquePrefix('coherence'), ...relaxed, ...options });
    clients.push(c);
    return c;
  };
  const trackingInfo = async (c: Client) => {
    const [, flags, , redirect, , prefixes] = (await c.command(['CLIENT', 'TRACKINGINFO'])) as [string, string[], string, number, string, string[]];
    return { flags, redirect, prefixes };
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  test("is broadcast under the keyPrefix, without this client's own writes, by default", async () => {
    const c = await open({});
    const info = await trackingInfo(c);
    expect(info.flags).toEqual(expect.arrayContaining(['on', 'bcast', 'noloop']));
    expect(info.redirect).toBeGreaterThan(0);
    expect(info.prefixes).toHaveLength(1);
  });

  test("is off with coherence: 'ttl', where a copy stays until its L1 ttl", async () => {
    const ttl = await open({ local: { coherence: 'ttl' } });
    expect((await trackingInfo(ttl)).flags).toEqual(['off']);
    // The same prefix for a tracking client: it shows the invalidation was sent.
    const prefix = (ttl as unknown as { _prefix: string })._prefix;
    const tracking = await open({ keyPrefix: prefix });
    await ttl.cache.getOrSet('k', () => 'old');
    await tracking.cache.getOrSet('k', () => 'old');
    await redisCli(url, 'SET', prefix + 'k', '"new"');
    await waitFor(() => tracking.cache.peek('k') === undefined, WAIT_MS, 20, 'tracking copy evicted');
    expect(ttl.cache.peek('k')).toBe('old');
  });

  test('is off without an L1', async () => {
    expect((await trackingInfo(await open({ local: false }))).flags).toEqual(['off']);
  });

  test('local.coherence is validated', async () => {
    const err = await expectRejectsWith(() => createClient({ url, local: { coherence: 'push' as 'ttl' } }), 'ERR_INVALID_ARGUMENT');
    expect(err.message).toContain('local.coherence');
    await expectRejectsWith(() => createClient({ url, local: { coherence: 1 as unknown as 'ttl' } }), 'ERR_INVALID_ARGUMENT');
  });
});

describe('on a server that goes away', () => {
  let server: RedisServer;
  let client: Client;
  const prefix = uniquePrefix('coherence-restart');
  const readies: number[] = [];

  beforeAll(async () => {
    server = await startRedis();
    client = await createClient({ url: server.url, keyPrefix: prefix, connectTimeoutMs: 1000, commandTimeoutMs: 3000 });
    client.on('ready', () => readies.push(Date.now()));
  });

  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  const redirect = async () => ((await client.command(['CLIENT', 'TRACKINGINFO'])) as unknown[])[3] as number;

  test('losing the invalidation connection flushes the L1 and re-establishes tracking', async () => {
    await client.cache.set('a', 1);
    const before = await redirect();
    const readyBefore = readies.length;
    await redisCli(server.url, 'CLIENT', 'KILL', 'ID', String(before));
    await waitFor(() => client.cache.peek('a') === undefined, WAIT_MS, 20, 'L1 flushed');
    await waitFor(() => readies.length > readyBefore, WAIT_MS, 20, 'reconnected');
    const newRedirect = async () => {
      const r = await redirect().catch(() => -1);
      return r > 0 && r !== before;
    };
    await waitFor(newRedirect, WAIT_MS, 50, 'tracking redirected to a new subscriber');
    await client.cache.getOrSet('b', () => 'cached');
    await redisCli(server.url, 'SET', prefix + 'b', '"changed"');
    await waitFor(() => client.cache.peek('b') === undefined, WAIT_MS, 20, 'b evicted after reconnecting');
  });

  test('the L1 is flushed when the server stops, and tracking is back after its restart', async () => {
    await client.cache.set('during', 'kept?');
    expect(client.cache.peek('during')).toBe('kept?');
    const readyBefore = readies.length;
    await server.stop();
    await waitFor(() => client.cache.peek('during') === undefined, WAIT_MS, 20, 'L1 flushed at the loss');
    await server.restart();
    await waitFor(() => readies.length > readyBefore, WAIT_MS, 50, 'reconnected');
    await waitFor(() => client.cache.getOrSet('fresh', () => 'v').then(() => client.cache.peek('fresh') === 'v'), WAIT_MS, 50, 'cached again');
    await redisCli(server.url, 'DEL', prefix + 'fresh');
    await waitFor(() => client.cache.peek('fresh') === undefined, WAIT_MS, 20, 'evicted after the restart');
  });
});

describe('memory:// named store', () => {
  const url = `memory://coherence-${Date.now()}`;
  const clients: Client[] = [];
  const open = async (options: ClientOptions = {}) => {
    const c = await createClient({ url, keyPrefix: 'app:', ...options });
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  test('a write through one client evicts the copy of another', async () => {
    const [a, b] = [await open(), await open()];
    await a.cache.getOrSet('k', () => 'old');
    await b.set('k', 'new');
    await waitFor(() => a.cache.peek('k') === undefined, WAIT_MS, 5, 'evicted');
    expect(await a.cache.get('k')).toBe('new');
  });

  test('pattern and tag invalidation through one client empty the matching copies of another', async () => {
    const [a, b] = [await open(), await open()];
    await a.cache.getOrSet('p:1', () => 1);
    await a.cache.getOrSet('t:1', () => 2, { tags: ['t'] });
    await a.cache.getOrSet('q:1', () => 3);
    await b.cache.invalidate('p:*');
    await b.cache.invalidateTags(['t']);
    await waitFor(() => a.cache.peek('p:1') === undefined && a.cache.peek('t:1') === undefined, WAIT_MS, 5, 'evicted');
    expect(a.cache.peek('q:1')).toBe(3);
  });

  test("with coherence: 'ttl' the copy stays", async () => {
    const a = await open({ local: { coherence: 'ttl' } });
    const tracking = await open();
    await a.cache.getOrSet('k', () => 'old');
    await tracking.cache.getOrSet('k', () => 'old');
    const b = await open();
    await b.set('k', 'new');
    await waitFor(() => tracking.cache.peek('k') === undefined, WAIT_MS, 5, 'tracking copy evicted');
    expect(a.cache.peek('k')).toBe('old');
  });
});
