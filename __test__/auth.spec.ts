/**
 * ACL user + password from the URL, on a redis-server of this file's own: the client
 * authenticates on every connection it opens, and a password never shows in an error, an
 * event or `health()`.
 */
import { createClient } from '../index';
import type { Client, FerroError } from '../index';
import { rejectionOf, startRedis, uniquePrefix, waitFor } from './helpers';
import type { RedisServer } from './helpers';

const PASSWORD = 'pw-9f2c-secret';
const WRONG = 'pw-0000-wrong';

let server: RedisServer;
let admin: Client;
const clients: Client[] = [];
const open = async (...args: Parameters<typeof createClient>) => {
  const c = await createClient(...args);
  clients.push(c);
  return c;
};
const urlOf = (user: string, password: string) => server.url.replace('redis://', `redis://${user}:${password}@`);

beforeAll(async () => {
  server = await startRedis();
  admin = await createClient({ url: server.url, local: false });
  await admin.command(['ACL', 'SETUSER', 'app', 'on', `>${PASSWORD}`, '~*', '&*', '+@all']);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

test('an ACL user and password in the URL authenticate every connection', async () => {
  const c = await open({ url: urlOf('app', PASSWORD), keyPrefix: uniquePrefix('auth') });
  expect(await c.command(['ACL', 'WHOAMI'])).toBe('app');
  await c.set('k', { ok: true });
  expect(await c.get('k')).toEqual({ ok: true });
  // The L1's invalidation connection authenticated too: its client shows in the list as 'app'.
  await waitFor(async () => String(await admin.command(['CLIENT', 'LIST'])).split('\n').filter((l) => l.includes('user=app')).length >= 2, 10_000);
});

test('a wrong password fails fast with failFast, and the error does not show it', async () => {
  const err = (await rejectionOf(() => createClient({ url: urlOf('app', WRONG), failFast: true, connectTimeoutMs: 2000 }))) as FerroError;
  expect(['ERR_REDIS', 'ERR_UNAVAILABLE']).toContain(err.code);
  expect(err.message).not.toContain(WRONG);
  expect(String(err.stack)).not.toContain(WRONG);
});

test('without failFast the client starts degraded; no event, error or health report shows the password', async () => {
  const c = await open({ url: urlOf('app', WRONG), connectTimeoutMs: 2000, commandTimeoutMs: 1000 });
  const seen: string[] = [];
  c.on('error', (e) => seen.push(`${e.code} ${e.message}`));
  const err = (await rejectionOf(() => c.get('k'))) as FerroError;
  expect(err.code).toBe('ERR_UNAVAILABLE');
  expect(err.message).not.toContain(WRONG);
  await waitFor(() => seen.length > 0, 10_000);
  for (const text of seen) expect(text).not.toContain(WRONG);
  const health = await c.health();
  expect(health.status).toBe('unhealthy');
  expect(JSON.stringify(health)).not.toContain(WRONG);
  expect(c.metrics()).not.toContain(WRONG);
});
