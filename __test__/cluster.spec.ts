/**
 * Redis Cluster specifics, on the run's 3-master test cluster: keys spread over every master,
 * pattern invalidation on every master, exact rate limits and the blacklist across slots, L1
 * coherence through one subscriber per master, redirections, bad seeds, clean exit.
 * (The conformance specs run on the cluster too: `backends` in helpers.ts.)
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { createClient, FerroError } from '../index';
import type { Client, ClientOptions } from '../index';
import {
  clusterNodeUrls,
  expectRejectsWith,
  freePort,
  globEscape,
  inspector,
  redisCli,
  relaxed,
  scanClusterKeys,
  scanKeys,
  testClusterUrl,
  testUrl,
  uniquePrefix,
  waitFor,
} from './helpers';
import type { Inspector, TestBackend } from './helpers';
import { startCluster } from './setup/redis-cluster';
import { isAlive, startRedis } from './setup/redis-server';
import { makePki } from './setup/tls';
import type { TestPki } from './setup/tls';
import type { RedisCluster } from './setup/redis-cluster';

const clusterUrl = testClusterUrl();

test('the run has a test cluster unless REDIS_URL names an external Redis', () => {
  const external = process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== '';
  expect(clusterUrl === undefined).toBe(external);
});

// Only a run with an external REDIS_URL has no cluster (the test above): then there is nothing to run on.
if (clusterUrl !== undefined) describe('cluster', () => clusterSpecs({ name: 'cluster', url: clusterUrl }));

function clusterSpecs(backend: TestBackend): void {
  const nodes = clusterNodeUrls(backend.url);
  const clients: Client[] = [];
  let inspect: Inspector;

  async function open(keyPrefix: string, options: ClientOptions = {}): Promise<Client> {
    const c = await createClient({ url: backend.url, keyPrefix, ...relaxed, ...options });
    clients.push(c);
    return c;
  }

  /** How many keys under `prefix` each master holds, in node order. */
  const perNode = (prefix: string) => Promise.all(nodes.map(async (n) => (await scanKeys(n, globEscape(prefix) + '*')).length));

  beforeAll(async () => {
    inspect = await inspector(backend);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await inspect.close();
  });

  test('the cluster has three masters and the client reports the cluster backend', async () => {
    expect(nodes).toHaveLength(3);
    const c = await open(uniquePrefix('cl-health'));
    const health = await c.health();
    expect(health.backend).toBe('cluster');
    expect(health.status).not.toBe('unhealthy');
  });

  test("a test's keys land on all three masters, and every one reads back", async () => {
    const prefix = uniquePrefix('cl-spread');
    const c = await open(prefix);
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k, i) => c.set(k, i)));
    const counts = await perNode(prefix);
    for (const n of counts) expect(n).toBeGreaterThan(0);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
    expect(await c.mget(keys)).toEqual(keys.map((_, i) => i));
    expect(await c.del(keys.slice(0, 30))).toBe(30);
    expect((await perNode(prefix)).reduce((a, b) => a + b, 0)).toBe(30);
  });

  test('serverInfo adds up the keys of every master', async () => {
    const prefix = uniquePrefix('cl-info');
    const c = await open(prefix);
    await Promise.all(Array.from({ length: 30 }, (_, i) => c.set(`k${i}`, i)));
    const info = await c.serverInfo();
    expect(info.keys).toBeGreaterThanOrEqual(30);
  });

  test('keyless commands reach every master: DBSIZE adds up, SCRIPT FLUSH empties every script cache', async () => {
    const prefix = uniquePrefix('cl-keyless');
    const c = await open(prefix);
    // A Lua script (src/features/ratelimit/ratelimit_sliding_window.lua), loaded on each master by its first call.
    const limiter = c.rateLimiter({ name: 'api', limit: 5, window: 60, algorithm: 'sliding-window' });
    const ids = Array.from({ length: 12 }, (_, i) => `id${i}`);
    for (const id of ids) expect((await limiter.consume(id)).allowed).toBe(true);
    const perNodeKeys = await perNode(prefix);
    expect(perNodeKeys.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(Number(await c.command(['DBSIZE']))).toBeGreaterThanOrEqual(ids.length);

    expect(await c.command(['SCRIPT', 'FLUSH'])).toBe('OK');
    // Every master answers NOSCRIPT once and gets the script again.
    for (const id of ids) expect((await limiter.consume(id)).remaining).toBe(3);
  });

  test('invalidate(pattern) deletes the matching keys on every master and leaves the others', async () => {
    const prefix = uniquePrefix('cl-invalidate');
    const c = await open(prefix);
    await Promise.all(Array.from({ length: 40 }, (_, i) => c.set(`p:${i}`, i)));
    await Promise.all(Array.from({ length: 40 }, (_, i) => c.set(`q:${i}`, i)));
    const before = await Promise.all(nodes.map(async (n) => (await scanKeys(n, globEscape(prefix) + 'p:*')).length));
    for (const n of before) expect(n).toBeGreaterThan(0);

    expect(await c.cache.invalidate('p:*')).toBe(40);
    expect(await scanClusterKeys(backend.url, globEscape(prefix) + 'p:*')).toEqual([]);
    expect(await scanClusterKeys(backend.url, globEscape(prefix) + 'q:*')).toHaveLength(40);
  });

  test('a multi-slot mset writes every entry, and getOrSet and tags work across slots', async () => {
    const prefix = uniquePrefix('cl-mset');
    const c = await open(prefix);
    const entries = Array.from({ length: 20 }, (_, i) => ({ key: `m${i}`, value: { i }, ttl: 60 }));
    await c.mset(entries);
    for (const e of entries) expect(Number(await inspect.cli('TTL', prefix + e.key))).toBeGreaterThan(0);
    expect(await c.mget(entries.map((e) => e.key))).toEqual(entries.map((e) => e.value));
    await Promise.all(['a', 'b', 'c', 'd'].map((k) => c.cache.set(k, k, { tags: ['t'] })));
    expect(await c.cache.invalidateTags(['t'])).toBe(4);
    expect(await c.mget(['a', 'b', 'c', 'd'])).toEqual([null, null, null, null]);
  });

  test('rate limits stay exact under 200 concurrent consumes from two clients, over ids of several slots', async () => {
    const prefix = uniquePrefix('cl-ratelimit');
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    const opts = { name: 'api', limit: 10, window: 60 };
    const [la, lb] = [a.rateLimiter(opts), b.rateLimiter(opts)];
    const ids = ['alice', 'bob', 'carol', 'dave'];
    const slots = await Promise.all(ids.map((id) => inspect.cli('CLUSTER', 'KEYSLOT', `${prefix}ratelimit:{api:${id}}`)));
    expect(new Set(slots).size).toBeGreaterThan(1);

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? la : lb).consume(ids[i % ids.length]).then((r) => ({ id: ids[i % ids.length], allowed: r.allowed }))),
    );
    for (const id of ids) expect(results.filter((r) => r.id === id && r.allowed)).toHaveLength(10);
  });

  test('the blacklist works with the jti key and the user key in different slots', async () => {
    const prefix = uniquePrefix('cl-blacklist');
    const c = await open(prefix);
    const list = c.tokenBlacklist();
    const exp = Math.floor(Date.now() / 1000) + 600;
    const iat = Math.floor(Date.now() / 1000) - 10;
    const jtiSlot = await inspect.cli('CLUSTER', 'KEYSLOT', `${prefix}jwt:jti:t1`);
    const userSlot = await inspect.cli('CLUSTER', 'KEYSLOT', `${prefix}jwt:user:u1`);
    expect(jtiSlot).not.toBe(userSlot);

    expect(await list.isRevoked({ jti: 't1', sub: 'u1', iat })).toBe(false);
    await list.revoke({ jti: 't1', exp });
    expect(await list.isRevoked({ jti: 't1', sub: 'u1', iat })).toBe(true);
    expect(await list.isRevoked({ jti: 't2', sub: 'u1', iat })).toBe(false);
    await list.revokeAllForUser('u1');
    expect(await list.isRevoked({ jti: 't2', sub: 'u1', iat })).toBe(true);
    expect(await list.isRevoked({ jti: 't3', sub: 'u2', iat })).toBe(false);
  });

  describe('L1 coherence', () => {
    /** Reads `key` until this client holds `value` in its L1 (a read stores it there). */
    const untilHeld = (c: Client, key: string, value: unknown) =>
      waitFor(async () => (await c.cache.get(key)) !== undefined && c.cache.peek(key) === value, 10000, 50, `${key} held in L1`);

    test("a write by another client (redis-cli -c) evicts this client's L1 copy", async () => {
      const prefix = uniquePrefix('cl-coherence');
      const c = await open(prefix);
      await c.cache.set('k', 1);
      await untilHeld(c, 'k', 1);
      await inspect.cli('SET', `${prefix}k`, '2');
      await waitFor(() => c.cache.peek('k') === undefined, 10000, 20, 'the L1 copy evicted');
      expect(await c.cache.get('k')).toBe(2);
    });

    test('keys on every master are covered, each by its own subscriber', async () => {
      const prefix = uniquePrefix('cl-coherence-all');
      const c = await open(prefix);
      const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
      await c.mset(keys.map((key) => ({ key, value: 1 })));
      for (const k of keys) await untilHeld(c, k, 1);
      const owners = await Promise.all(keys.map((k) => inspect.cli('CLUSTER', 'KEYSLOT', `${prefix}${k}`)));
      expect(new Set(owners).size).toBeGreaterThan(1);
      await Promise.all(keys.map((k) => inspect.cli('SET', `${prefix}${k}`, '2')));
      await waitFor(() => keys.every((k) => c.cache.peek(k) === undefined), 10000, 20, 'every L1 copy evicted');
    });

    test("this client's own writes come back as invalidations: the copy a write stored leaves, a read brings it back", async () => {
      const prefix = uniquePrefix('cl-coherence-own');
      const c = await open(prefix);
      await c.cache.set('k', 1);
      await waitFor(() => c.cache.peek('k') === undefined, 10000, 20, 'the echo of our own SET');
      await untilHeld(c, 'k', 1);
      expect(await c.cache.get('k')).toBe(1);
      expect(c.cache.peek('k')).toBe(1);
    });
  });

  test('a single seed is enough: redirections to the other masters are followed', async () => {
    const prefix = uniquePrefix('cl-one-seed');
    const c = await createClient({ cluster: [nodes[0]], keyPrefix: prefix, ...relaxed });
    clients.push(c);
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => c.set(k, k)));
    for (const n of await perNode(prefix)) expect(n).toBeGreaterThan(0);
    for (const k of keys) expect(await inspect.cli('GET', prefix + k)).toBe(JSON.stringify(k));
  });

  test("a MOVED after a slot changes master is followed", async () => {
    const prefix = uniquePrefix('cl-moved');
    const c = await open(prefix);
    const key = `${prefix}moving`;
    await c.set('moving', 'before');
    const slot = await inspect.cli('CLUSTER', 'KEYSLOT', key);
    const ids = await Promise.all(nodes.map((n) => redisCli(n, 'CLUSTER', 'MYID')));
    const ports = nodes.map((n) => Number(n.split(':').pop()));
    const owner = (await Promise.all(nodes.map((n) => redisCli(n, 'CLUSTER', 'COUNTKEYSINSLOT', slot)))).findIndex((count) => count !== '0');
    expect(owner).toBeGreaterThanOrEqual(0);
    const target = (owner + 1) % nodes.length;
    // The migration protocol: importing on the target, migrating on the source, MIGRATE the key, then assign the slot everywhere.
    await redisCli(nodes[target], 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids[owner]);
    await redisCli(nodes[owner], 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids[target]);
    await redisCli(nodes[owner], 'MIGRATE', '127.0.0.1', String(ports[target]), key, '0', '5000');
    for (const n of [nodes[target], nodes[owner], ...nodes]) await redisCli(n, 'CLUSTER', 'SETSLOT', slot, 'NODE', ids[target]);

    expect(await c.get('moving')).toBe('before');
    await c.set('moving', 'after');
    expect(await redisCli(nodes[target], 'GET', key)).toBe(JSON.stringify('after'));
  });

  test('a closed cluster client lets its process exit by itself', async () => {
    const prefix = uniquePrefix('cl-exit');
    const entry = path.resolve(__dirname, '..', 'index.js');
    const script = `
      const { createClient } = require(${JSON.stringify(entry)});
      (async () => {
        const client = await createClient({ url: process.env.CLUSTER, keyPrefix: ${JSON.stringify(prefix)}, commandTimeoutMs: 15000 });
        await client.set('a', 1);
        await client.cache.getOrSet('b', () => 2);
        await client.queue('q').pop({ timeoutMs: 100 });
        await client.close();
        console.log('closed');
      })().catch((err) => { console.error(err); process.exitCode = 1; });
    `;
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, CLUSTER: backend.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 15000);
      child.once('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(out).toContain('closed');
    expect(code).toBe(0);
  });

  describe('a cluster of its own, stopped and started again', () => {
    let own: RedisCluster;

    beforeAll(async () => {
      own = await startCluster();
    });

    afterAll(async () => {
      await own.stop();
    });

    test('losing a subscriber flushes the L1; an outage fails commands at once, with events, until the cluster is back', async () => {
      const prefix = uniquePrefix('cl-outage');
      const c = await createClient({ url: own.url, keyPrefix: prefix, ...relaxed, commandTimeoutMs: 2000, connectTimeoutMs: 500 });
      clients.push(c);
      const events: string[] = [];
      for (const name of ['ready', 'error', 'reconnecting'] as const) c.on(name as 'ready', () => events.push(name));
      await c.set('k', 1);
      await waitFor(async () => (await c.cache.get('k')) === 1 && c.cache.peek('k') === 1, 10000, 50, 'k held in L1');

      // Every subscriber of every node is ours here: kill them all.
      await Promise.all(own.nodes.map((n) => redisCli(n.url, 'CLIENT', 'KILL', 'TYPE', 'pubsub')));
      await waitFor(() => c.cache.peek('k') === undefined, 10000, 20, 'the L1 flushed');
      // Re-attached: another client's write still reaches the L1.
      await waitFor(async () => (await c.cache.get('k')) === 1 && c.cache.peek('k') === 1, 10000, 50, 'k held again');
      await redisCli(own.nodes[0].url, '-c', 'SET', `${prefix}k`, '2');
      await waitFor(() => c.cache.peek('k') === undefined, 10000, 20, 'evicted after re-attaching');

      // Stopped by pid, keeping their directories (nodes.conf) for the restart.
      for (const n of own.nodes) process.kill(n.pid, 'SIGTERM');
      await waitFor(() => own.nodes.every((n) => !isAlive(n.pid)), 15000, 50, 'the nodes stopped');
      await waitFor(() => events.includes('error') && events.includes('reconnecting'), 15000, 50, "'error' and 'reconnecting'");
      await waitFor(async () => (await c.health()).status === 'unhealthy', 15000, 50, 'unhealthy');
      await expectRejectsWith(() => c.get('k'), 'ERR_UNAVAILABLE');

      const readies = events.filter((e) => e === 'ready').length;
      for (const n of own.nodes) await n.restart();
      await waitFor(() => events.filter((e) => e === 'ready').length > readies, 20000, 50, "'ready' again");
      await waitFor(async () => (await c.set('k', 3).catch(() => false)) === true, 20000, 100, 'a write after the outage');
      expect(await c.get('k')).toBe(3);
    });
    test('a value read while the subscribers re-attach does not stay: the L1 is flushed again once every master is attached', async () => {
      const prefix = uniquePrefix('cl-window');
      // (Restarted by the test before: every node must see every slot served again.)
      const up = async () => (await Promise.all(own.nodes.map((n) => redisCli(n.url, 'CLUSTER', 'INFO')))).every((i) => i.includes('cluster_state:ok'));
      await waitFor(up, 20000, 100, 'the cluster up on every node');
      const c = await createClient({ url: own.url, keyPrefix: prefix, ...relaxed });
      clients.push(c);
      const held = async (k: string, v: unknown) => (await c.cache.get(k)) === v && c.cache.peek(k) === v;
      // Masters are attached in port order: while the first waits, the last has no subscriber.
      const byPort = [...own.nodes].sort((a, b) => a.port - b.port);
      const [first, last] = [byPort[0], byPort[byPort.length - 1]];
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      await c.mset(keys.map((key) => ({ key, value: 1 })));
      const onLast = (await scanKeys(last.url, globEscape(prefix) + '*')).map((k) => k.slice(prefix.length));
      const key = onLast[0];
      expect(keys).toContain(key);
      await waitFor(() => held(key, 1), 10000, 50, `${key} held`);

      // The first master answers nothing for a while (well within the timeouts), and the other
      // masters' subscribers are lost: the L1 is flushed, and re-attaching waits on the first.
      await redisCli(first.url, 'CLIENT', 'PAUSE', '5000', 'ALL');
      await Promise.all(byPort.slice(1).map((n) => redisCli(n.url, 'CLIENT', 'KILL', 'TYPE', 'pubsub')));
      await waitFor(() => c.cache.peek(key) === undefined, 10000, 20, 'the L1 flushed');
      // In the window: a read stores the value in the L1, then another client changes it, unseen.
      expect(await c.cache.get(key)).toBe(1);
      expect(c.cache.peek(key)).toBe(1);
      await redisCli(last.url, 'SET', `${prefix}${key}`, '2');

      // Once every master is attached the L1 is flushed again: the stale copy does not stay.
      await waitFor(() => c.cache.peek(key) === undefined, 15000, 20, 'the copy read in the window dropped');
      expect(await c.cache.get(key)).toBe(2);
      // And the last master's new subscriber reports changes.
      await waitFor(() => held(key, 2), 10000, 50, `${key} held again`);
      await redisCli(last.url, 'SET', `${prefix}${key}`, '3');
      await waitFor(() => c.cache.peek(key) === undefined, 10000, 20, 'evicted after re-attaching');
    });

    test('a new master: the L1 is flushed and the new master gets its own subscriber', async () => {
      const prefix = uniquePrefix('cl-topology');
      const c = await createClient({ url: own.url, keyPrefix: prefix, ...relaxed });
      clients.push(c);
      const held = async (k: string, v: unknown) => (await c.cache.get(k)) === v && c.cache.peek(k) === v;
      await c.mset([{ key: 'moving', value: 1 }, { key: 'staying', value: 1 }]);
      const slotOf = (k: string) => redisCli(own.nodes[0].url, 'CLUSTER', 'KEYSLOT', `${prefix}${k}`);
      const [slot, other] = await Promise.all([slotOf('moving'), slotOf('staying')]);
      expect(slot).not.toBe(other);
      await waitFor(() => held('moving', 1), 10000, 50, 'moving held');
      await waitFor(() => held('staying', 1), 10000, 50, 'staying held');

      const added = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] });
      try {
        const all = [...own.nodes, added];
        await redisCli(own.nodes[0].url, 'CLUSTER', 'MEET', '127.0.0.1', String(added.port));
        await waitFor(async () => (await Promise.all(all.map((n) => redisCli(n.url, 'CLUSTER', 'INFO')))).every((i) => i.includes('cluster_known_nodes:4') && i.includes('cluster_state:ok')), 15000, 100, 'the new node known to all, and knowing the slots');
        const ids = await Promise.all(all.map((n) => redisCli(n.url, 'CLUSTER', 'MYID')));
        const owner = (await Promise.all(own.nodes.map((n) => redisCli(n.url, 'CLUSTER', 'COUNTKEYSINSLOT', slot)))).findIndex((n) => n !== '0');
        await redisCli(added.url, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids[owner]);
        await redisCli(own.nodes[owner].url, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids[3]);
        expect(await redisCli(own.nodes[owner].url, 'MIGRATE', '127.0.0.1', String(added.port), `${prefix}moving`, '0', '5000')).toBe('OK');
        for (const n of [added, own.nodes[owner], ...all]) await redisCli(n.url, 'CLUSTER', 'SETSLOT', slot, 'NODE', ids[3]);

        // A key no migration touched leaves the L1 too: the set of masters changed.
        await waitFor(() => c.cache.peek('staying') === undefined, 10000, 20, 'the L1 flushed');
        await waitFor(() => held('moving', 1), 10000, 50, 'moving held again, now on the new master');
        await redisCli(added.url, 'SET', `${prefix}moving`, '2');
        await waitFor(() => c.cache.peek('moving') === undefined, 10000, 20, "evicted by the new master's subscriber");
        expect(await c.get('moving')).toBe(2);
      } finally {
        await c.close();
        await added.stop();
      }
    });
  });

  describe('with a password', () => {
    let secured: RedisCluster;
    const password = 'cluster-secret';

    beforeAll(async () => {
      secured = await startCluster({ password });
    });

    afterAll(async () => {
      await secured?.stop();
    });

    const seeds = (pass: string) => secured.url.replace('redis+cluster://', `redis+cluster://:${pass}@`);

    test('credentials of the seed URL reach every node, invalidation subscribers included', async () => {
      const prefix = uniquePrefix('cl-auth');
      const c = await createClient({ url: seeds(password), keyPrefix: prefix, ...relaxed, failFast: true });
      clients.push(c);
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((k, i) => c.set(k, i)));
      expect(await c.mget(keys)).toEqual(keys.map((_, i) => i));
      await waitFor(async () => (await c.cache.get('k0')) === 0 && c.cache.peek('k0') === 0, 10000, 50, 'k0 held in L1');
      await redisCli(secured.nodes[0].url, '-a', password, '--no-auth-warning', '-c', 'SET', `${prefix}k0`, '5');
      await waitFor(() => c.cache.peek('k0') === undefined, 10000, 20, 'the L1 copy evicted');
    });

    test('a wrong or missing password fails fast with failFast, and the error does not show it', async () => {
      const err = await expectRejectsWith(() => createClient({ url: seeds('wrong-secret'), connectTimeoutMs: 2000, failFast: true }), ['ERR_REDIS', 'ERR_UNAVAILABLE']);
      expect(err.message).not.toContain('wrong-secret');
      expect(String(err.stack)).not.toContain('wrong-secret');
      await expectRejectsWith(() => createClient({ url: secured.url, connectTimeoutMs: 2000, failFast: true }), ['ERR_REDIS', 'ERR_UNAVAILABLE']);
    });
  });

  describe('over TLS', () => {
    let tls: RedisCluster;
    let pki: TestPki;
    const tlsPorts: number[] = [];

    beforeAll(async () => {
      pki = makePki('ferrocache cluster test CA');
      tls = await startCluster({
        nodeArgs: async (i) => {
          tlsPorts[i] = await freePort();
          return [
            '--tls-port', String(tlsPorts[i]),
            '--tls-cert-file', pki.certFile,
            '--tls-key-file', pki.keyFile,
            '--tls-ca-cert-file', pki.caFile,
            '--tls-cluster', 'yes',
            '--tls-auth-clients', 'no',
          ];
        },
      });
    });

    afterAll(async () => {
      await tls?.stop();
      pki?.remove();
    });

    test('rediss:// seeds with tls.ca: keys of every slot, and L1 coherence through TLS subscribers', async () => {
      const prefix = uniquePrefix('cl-tls');
      const c = await createClient({ cluster: [`rediss://127.0.0.1:${tlsPorts[0]}`], tls: { ca: pki.ca }, keyPrefix: prefix, ...relaxed, failFast: true });
      clients.push(c);
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((k, i) => c.set(k, i)));
      expect(await c.mget(keys)).toEqual(keys.map((_, i) => i));
      for (const n of tls.nodes) expect((await scanKeys(n.url, globEscape(prefix) + '*')).length).toBeGreaterThan(0);
      await waitFor(async () => (await c.cache.get('k0')) === 0 && c.cache.peek('k0') === 0, 10000, 50, 'k0 held in L1');
      await redisCli(tls.nodes[0].url, '-c', 'SET', `${prefix}k0`, '5');
      await waitFor(() => c.cache.peek('k0') === undefined, 10000, 20, 'the L1 copy evicted');
    });

    test('a CA that did not sign the nodes is refused', async () => {
      const other = makePki('another CA');
      try {
        await expectRejectsWith(
          () => createClient({ cluster: [`rediss://127.0.0.1:${tlsPorts[0]}`], tls: { ca: other.ca }, connectTimeoutMs: 2000, failFast: true }),
          ['ERR_UNAVAILABLE', 'ERR_REDIS'],
        );
      } finally {
        other.remove();
      }
    });
  });

  describe('bad seeds', () => {
    test('seeds where nothing listens: failFast rejects with ERR_UNAVAILABLE, commands fail at once', async () => {
      const port = await freePort();
      await expectRejectsWith(() => createClient({ cluster: [`redis://127.0.0.1:${port}`], connectTimeoutMs: 500, failFast: true }), 'ERR_UNAVAILABLE');
      const c = await createClient({ cluster: [`redis://127.0.0.1:${port}`], connectTimeoutMs: 500 });
      clients.push(c);
      await expectRejectsWith(() => c.get('a'), 'ERR_UNAVAILABLE');
      expect((await c.health()).status).toBe('unhealthy');
    });

    test('a seed that is not a cluster node is ERR_UNAVAILABLE with the reason', async () => {
      const err = await expectRejectsWith(() => createClient({ cluster: [testUrl()], connectTimeoutMs: 2000, failFast: true }), 'ERR_UNAVAILABLE');
      expect(err).toBeInstanceOf(FerroError);
      expect(err.message).toMatch(/cluster/i);
    });

    test('seeds that are not redis:// URLs are ERR_INVALID_ARGUMENT', async () => {
      await expectRejectsWith(() => createClient({ cluster: ['http://127.0.0.1:1'] }), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => createClient({ cluster: [] }), 'ERR_INVALID_ARGUMENT');
      // The driver checks each node's certificate against that node's own name.
      await expectRejectsWith(() => createClient({ cluster: ['rediss://127.0.0.1:1'], tls: { servername: 'redis.example' } }), 'ERR_INVALID_ARGUMENT');
    });
  });
}
