/**
 * Sentinel: one master, one replica and one sentinel of this file's own. The client finds the
 * master through the sentinel, and carries on when the master is stopped and the sentinel
 * promotes the replica. A sentinel or a master that accepts the connection and never answers
 * is given up within the timeouts, never waited on.
 */
import * as net from 'net';
import { createClient } from '../index';
import type { Client, ClientOptions, FerroError } from '../index';
import { expectRejectsWith, redisCli, rejectionOf, relaxed, startRedis, uniquePrefix, waitFor } from './helpers';
import type { RedisServer } from './helpers';
import { fakeServer } from './helpers/fault-proxy';
import type { FakeServer } from './helpers/fault-proxy';

let master: RedisServer;
let replica: RedisServer;
let sentinel: RedisServer;
const clients: Client[] = [];

const open = async (opts: ClientOptions) => {
  const c = await createClient({ ...relaxed, failFast: true, ...opts });
  clients.push(c);
  return c;
};
const sentinelUrl = (name = 'main') => `redis+sentinel://127.0.0.1:${sentinel.port}/${name}`;

const fakes: FakeServer[] = [];

/** A fake server this file closes after each test. */
async function fake(onConnection?: (socket: net.Socket) => void): Promise<FakeServer> {
  const server = await fakeServer(onConnection);
  fakes.push(server);
  return server;
}

/** Accepts connections and never answers a byte. */
const silentServer = () => fake();

/** A sentinel that names `named` as the master of any name, and nothing else. */
const sentinelNaming = (named: FakeServer) =>
  fake((socket) =>
    socket.once('data', () => {
      const port = String(named.port);
      socket.write(`*2\r\n$9\r\n127.0.0.1\r\n$${port.length}\r\n${port}\r\n`);
    }),
  );

/** Small timeouts: a silent server is given up quickly. */
const TIGHT = { connectTimeoutMs: 500, commandTimeoutMs: 500 } as const;

/** The servers by their current role, as the sentinel sees them. */
async function roles(): Promise<{ primary: RedisServer; secondary: RedisServer }> {
  const addr = (await redisCli(sentinel.url, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'main')).split('\n');
  const primary = [master, replica].find((s) => String(s.port) === addr[1]);
  if (primary === undefined) throw new Error(`the sentinel names an unknown master: ${addr.join(':')}`);
  return { primary, secondary: primary === master ? replica : master };
}

/** Retries `c.set(key, value)` until a master takes it; the failures are fast, typed errors. */
async function writeThrough(c: Client, key: string, value: string): Promise<void> {
  await waitFor(
    async () => {
      try {
        await c.set(key, value);
        return true;
      } catch (err) {
        expect(['ERR_UNAVAILABLE', 'ERR_TIMEOUT', 'ERR_REDIS']).toContain((err as FerroError).code);
        return false;
      }
    },
    60_000,
    200,
    `a write of ${key} after the failover`,
  );
}

beforeAll(async () => {
  master = await startRedis();
  replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await waitFor(async () => (await redisCli(replica.url, 'INFO', 'replication')).includes('master_link_status:up'), 20_000);
  sentinel = await startRedis({
    config: [
      `sentinel monitor main 127.0.0.1 ${master.port} 1`,
      'sentinel down-after-milliseconds main 1000',
      'sentinel failover-timeout main 5000',
      '',
    ].join('\n'),
    args: ['--sentinel'],
  });
  // The sentinel learns of the replica from the master's INFO.
  await waitFor(async () => (await redisCli(sentinel.url, 'SENTINEL', 'REPLICAS', 'main')).includes(String(replica.port)), 30_000);
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

afterAll(async () => {
  await Promise.all([sentinel?.stop(), replica?.stop(), master?.stop()]);
});

test('redis+sentinel:// connects to the master the sentinel names', async () => {
  const prefix = uniquePrefix('sentinel');
  const c = await open({ url: sentinelUrl(), keyPrefix: prefix });
  await c.set('k', 'on the master');
  expect(await redisCli(master.url, 'GET', `${prefix}k`)).toBe('"on the master"');
  expect((await c.health()).status).toBe('healthy');
});

test('the options form: sentinel nodes, master name, and the master database', async () => {
  const prefix = uniquePrefix('sentinel-opts');
  const c = await open({ sentinel: { name: 'main', nodes: [sentinel.url], db: 2 }, keyPrefix: prefix, local: false });
  await c.set('k', 1);
  expect(await redisCli(master.url, '-n', '2', 'GET', `${prefix}k`)).toBe('1');
});

test('a master no sentinel knows is a clear error', async () => {
  const err = (await rejectionOf(() => open({ url: sentinelUrl('nope'), connectTimeoutMs: 3000 }))) as FerroError;
  expect(err.code).toBe('ERR_UNAVAILABLE');
  expect(err.message).toContain("no master 'nope'");
  const bad = (await rejectionOf(() => createClient({ sentinel: { name: '', nodes: [sentinel.url] } }))) as FerroError;
  expect(bad.code).toBe('ERR_INVALID_ARGUMENT');
});

test('a sentinel that accepts and never answers is skipped for the next one', async () => {
  const silent = await silentServer();
  const prefix = uniquePrefix('sentinel-silent');
  // Listed first, in both forms: the client gives up on it and asks the real sentinel. (Without
  // failFast, and writes retried: on a loaded machine the real one may miss the tight timeout.)
  const url = `redis+sentinel://127.0.0.1:${silent.port},127.0.0.1:${sentinel.port}/main`;
  const c = await open({ ...TIGHT, failFast: false, url, keyPrefix: prefix });
  await writeThrough(c, 'k', 'through the second sentinel');
  const { primary } = await roles();
  expect(await redisCli(primary.url, 'GET', `${prefix}k`)).toBe('"through the second sentinel"');
  const d = await open({ ...TIGHT, failFast: false, sentinel: { name: 'main', nodes: [silent.url, sentinel.url] }, keyPrefix: prefix });
  await writeThrough(d, 'k2', 'through the options form');
  expect(await redisCli(primary.url, 'GET', `${prefix}k2`)).toBe('"through the options form"');
});

test('only silent sentinels: createClient rejects with failFast, else commands fail; nothing hangs', async () => {
  const [a, b] = [await silentServer(), await silentServer()];
  const options = { ...TIGHT, sentinel: { name: 'main', nodes: [a.url, b.url] } };
  await expectRejectsWith(() => open(options), 'ERR_UNAVAILABLE');
  const c = await open({ ...options, failFast: false });
  await expectRejectsWith(() => c.get('k'), 'ERR_UNAVAILABLE');
  expect((await c.health()).status).toBe('unhealthy');
});

test('a master that accepts and never answers ROLE is given up', async () => {
  const silentMaster = await silentServer();
  const liar = await sentinelNaming(silentMaster);
  const options = { ...TIGHT, sentinel: { name: 'main', nodes: [liar.url] } };
  await expectRejectsWith(() => open(options), 'ERR_UNAVAILABLE');
  const c = await open({ ...options, failFast: false });
  const errors: FerroError[] = [];
  c.on('error', (err) => errors.push(err));
  await expectRejectsWith(() => c.get('k'), 'ERR_UNAVAILABLE');
  // The supervisor keeps trying, and every attempt ends.
  await waitFor(() => errors.length >= 2, 20_000, 50, 'two failed connection attempts');
  expect(errors.every((err) => err.code === 'ERR_UNAVAILABLE')).toBe(true);
});

test('a failover with the old master alive (SENTINEL FAILOVER): the client leaves the demoted master', async () => {
  const prefix = uniquePrefix('demoted');
  const c = await open({ url: sentinelUrl(), keyPrefix: prefix, commandTimeoutMs: 2000 });
  const before = await roles();
  await c.set('before', 'kept');
  expect(await c.command(['WAIT', '1', '5000'])).toBe(1);
  await redisCli(sentinel.url, 'SENTINEL', 'FAILOVER', 'main');
  await waitFor(async () => (await roles()).primary === before.secondary, 30_000, 100, 'the sentinel to switch masters');
  const role = async (s: RedisServer) => (await redisCli(s.url, 'ROLE')).split('\n')[0];
  await waitFor(async () => (await role(before.primary)) === 'slave', 30_000, 100, 'the old master to be demoted');
  // The old master now answers as a replica (READONLY): the ROLE heartbeat moves the client on.
  await writeThrough(c, 'after', 'written');
  expect(await redisCli(before.secondary.url, 'GET', `${prefix}after`)).toBe('"written"');
  expect(await c.get('before')).toBe('kept');
}, 90_000);

test('the master is stopped: the client follows the failover to the promoted replica', async () => {
  const prefix = uniquePrefix('failover');
  const c = await open({ url: sentinelUrl(), keyPrefix: prefix, commandTimeoutMs: 2000 });
  const ready: number[] = [];
  c.on('ready', () => ready.push(Date.now()));
  const { primary, secondary } = await roles();
  await waitFor(async () => (await redisCli(secondary.url, 'INFO', 'replication')).includes('master_link_status:up'), 30_000);
  await c.set('before', 'kept');
  // WAIT: the replica has the write before its master goes.
  expect(await c.command(['WAIT', '1', '5000'])).toBe(1);
  await primary.stop();
  // Writes fail (never hang) while the sentinel elects; then they land on the new master.
  await writeThrough(c, 'after', 'written');
  expect((await redisCli(secondary.url, 'ROLE')).split('\n')[0]).toBe('master');
  expect(await redisCli(secondary.url, 'GET', `${prefix}after`)).toBe('"written"');
  expect(await c.get('before')).toBe('kept');
  expect(ready.length).toBeGreaterThanOrEqual(1);
}, 90_000);
