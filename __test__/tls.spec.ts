/**
 * rediss:// on a redis-server of this file's own (Debian's redis-server supports --tls-port),
 * with a CA made by the test: the client connects and every kind of connection it opens works
 * over TLS (commands, the L1's invalidation connection, the queue's blocking connection); a
 * server whose certificate does not verify is refused.
 */
import { createClient } from '../index';
import type { Client, ClientOptions, FerroError } from '../index';
import { freePort, redisCli, rejectionOf, relaxed, startRedis, uniquePrefix, waitFor } from './helpers';
import type { RedisServer } from './helpers';
import { makePki } from './setup/tls';
import type { TestPki } from './setup/tls';

let pki: TestPki;
let other: TestPki;
let server: RedisServer;
let tlsPort: number;
const clients: Client[] = [];

const open = async (opts: ClientOptions) => {
  const c = await createClient({ ...relaxed, failFast: true, ...opts });
  clients.push(c);
  return c;
};
const tlsUrl = (host = '127.0.0.1') => `rediss://${host}:${tlsPort}`;

beforeAll(async () => {
  pki = makePki('ferrocache test CA');
  other = makePki('some other CA');
  tlsPort = await freePort();
  // The plain port stays open for redis-cli, an independent writer.
  server = await startRedis({
    args: [
      '--tls-port', String(tlsPort),
      '--tls-cert-file', pki.certFile,
      '--tls-key-file', pki.keyFile,
      '--tls-ca-cert-file', pki.caFile,
      '--tls-auth-clients', 'no',
    ],
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.stop();
  pki?.remove();
  other?.remove();
});

test('rediss:// with the test CA: commands, the cache and the queue work over TLS', async () => {
  const prefix = uniquePrefix('tls');
  const c = await open({ url: tlsUrl(), tls: { ca: pki.ca }, keyPrefix: prefix });
  expect((await c.health()).status).toBe('healthy');
  await c.set('k', { over: 'tls' });
  expect(await c.get('k')).toEqual({ over: 'tls' });
  expect(await c.cache.getOrSet('c', () => 41 + 1)).toBe(42);
  // The queue's pop runs on a connection of its own: TLS too.
  const q = c.queue('jobs');
  const id = await q.push({ n: 1 });
  expect(await q.pop({ timeoutMs: 5000 })).toEqual({ id, payload: { n: 1 } });
  // Large values cross TLS records intact.
  const big = 'x'.repeat(300_000);
  await c.set('big', big);
  expect(await c.get('big')).toBe(big);
  // What the client wrote is plain data on the server.
  expect(await redisCli(server.url, 'GET', `${prefix}k`)).toBe('{"over":"tls"}');
});

test('L1 coherence over TLS: a write by another client evicts the L1 copy', async () => {
  const prefix = uniquePrefix('tls-l1');
  const c = await open({ url: tlsUrl(), tls: { ca: pki.ca }, keyPrefix: prefix });
  expect(await c.cache.getOrSet('menu', () => ({ v: 1 }))).toEqual({ v: 1 });
  expect(await c.cache.getOrSet('menu', () => ({ v: 'loader' }))).toEqual({ v: 1 });
  await redisCli(server.url, 'SET', `${prefix}menu`, '{"v":2}');
  await waitFor(async () => (await c.cache.getOrSet('menu', () => ({ v: 'loader' })) as { v: unknown }).v === 2, 10_000);
});

test('the tls option turns TLS on for a redis:// URL, and a Buffer CA works', async () => {
  const c = await open({ url: `redis://127.0.0.1:${tlsPort}`, tls: { ca: Buffer.from(pki.ca) }, local: false });
  expect(await c.ping()).toBeGreaterThanOrEqual(0);
});

test('the certificate name is checked: localhost matches, another servername does not', async () => {
  const ok = await open({ url: tlsUrl('localhost'), tls: { ca: pki.ca }, local: false });
  expect(await ok.ping()).toBeGreaterThanOrEqual(0);
  const err = (await rejectionOf(() =>
    open({ url: tlsUrl(), tls: { ca: pki.ca, servername: 'db.example.com' }, connectTimeoutMs: 3000 }),
  )) as FerroError;
  expect(err.code).toBe('ERR_UNAVAILABLE');
  expect(err.message).toMatch(/certificate/i);
});

test.each([
  ['the system roots (verification is on by default)', () => ({})],
  ['another CA', () => ({ ca: other.ca })],
])('a server whose certificate does not verify against %s is refused', async (_what, tls) => {
  const err = (await rejectionOf(() => open({ url: tlsUrl(), tls: tls(), connectTimeoutMs: 3000 }))) as FerroError;
  expect(err.code).toBe('ERR_UNAVAILABLE');
  expect(err.message).toMatch(/certificate/i);
});

test('without failFast a refused server leaves the client degraded, not hanging', async () => {
  const c = await createClient({ url: tlsUrl(), tls: { ca: other.ca }, connectTimeoutMs: 2000, commandTimeoutMs: 1000 });
  clients.push(c);
  const err = (await rejectionOf(() => c.get('k'))) as FerroError;
  expect(err.code).toBe('ERR_UNAVAILABLE');
  expect((await c.health()).status).toBe('unhealthy');
});

test('bad TLS options are a clear ERR_INVALID_ARGUMENT', async () => {
  for (const tls of [{ ca: 'not a certificate' }, { ca: 42 }, { servername: 'bad name!' }]) {
    const err = (await rejectionOf(() => createClient({ url: tlsUrl(), tls: tls as never }))) as FerroError;
    expect(err.code).toBe('ERR_INVALID_ARGUMENT');
    expect(err.message).toMatch(/tls/);
  }
  const err = (await rejectionOf(() => createClient({ url: 'memory://', tls: {} }))) as FerroError;
  expect(err.code).toBe('ERR_INVALID_ARGUMENT');
});
