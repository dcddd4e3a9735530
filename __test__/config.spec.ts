/**
 * Where the client connects: URL string, options, REDIS_URL, REDIS_HOST/PORT/DB, the db really
 * used; bad configuration; failFast and starting degraded.
 *
 * Clients configured from the environment could end up on the default 127.0.0.1:6379 if the
 * environment were ignored, and that server is not ours: those clients only READ a marker that
 * redis-cli wrote on the test server, they never write.
 */
import { createClient } from '../index';
import type { Client, ClientOptions } from '../index';
import { cleanupPrefixes, expectRejectsWith, freePort, redisCli, relaxed, testUrl, uniquePrefix } from './helpers';

const url = testUrl();
const ENV_KEYS = ['REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_DB'] as const;
const savedEnv: Record<string, string | undefined> = {};
const clients: Client[] = [];
const usedDbs = new Set<number>();
let prefix: string;

async function open(options?: ClientOptions | string): Promise<Client> {
  // Objects get relaxed timeouts (unless the test sets its own); strings and no argument stay as given.
  const c = await createClient(typeof options === 'object' ? { ...relaxed, ...options } : options);
  clients.push(c);
  return c;
}

/** The test URL with another db number. */
function urlWithDb(db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** host, port and password of the test server, for the REDIS_HOST family. */
function parts(): { host: string; port: string; password: string } {
  const u = new URL(url);
  return { host: u.hostname, port: u.port || '6379', password: decodeURIComponent(u.password) };
}

beforeEach(() => {
  prefix = uniquePrefix('config');
  for (const k of ENV_KEYS) {
    savedEnv[k] = process.env[k];
    delete process.env[k];
  }
});

afterEach(async () => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await cleanupPrefixes(url);
  for (const db of usedDbs) await cleanupPrefixes(url, undefined, db);
});

describe('where the client connects', () => {
  test('a URL string', async () => {
    const c = await open(url);
    const k = `${prefix}s`;
    expect(await c.set(k, { via: 'url' })).toBe(true);
    expect(JSON.parse(await redisCli(url, 'GET', k))).toEqual({ via: 'url' });
  });

  test('an options object', async () => {
    const c = await open({ url, keyPrefix: prefix });
    await c.set('o', 1);
    expect(await redisCli(url, 'GET', `${prefix}o`)).toBe('1');
  });

  test('REDIS_URL when no url is given', async () => {
    await redisCli(url, 'SET', `${prefix}marker`, '"from-env-url"');
    process.env.REDIS_URL = url;
    const c = await open({ keyPrefix: prefix });
    expect(await c.get('marker')).toBe('from-env-url');
  });

  test('createClient() with no argument reads REDIS_URL', async () => {
    await redisCli(url, 'SET', `${prefix}marker`, '"no-arg"');
    process.env.REDIS_URL = url;
    const c = await open();
    expect(await c.get(`${prefix}marker`)).toBe('no-arg');
  });

  test('REDIS_HOST / REDIS_PORT (and REDIS_PASSWORD) when REDIS_URL is unset', async () => {
    await redisCli(url, 'SET', `${prefix}marker`, '"from-host-port"');
    const { host, port, password } = parts();
    process.env.REDIS_HOST = host;
    process.env.REDIS_PORT = port;
    if (password !== '') process.env.REDIS_PASSWORD = password;
    const c = await open({ keyPrefix: prefix });
    expect(await c.get('marker')).toBe('from-host-port');
  });

  test('REDIS_DB selects the database', async () => {
    usedDbs.add(5);
    await redisCli(url, '-n', '5', 'SET', `${prefix}marker`, '"db5"');
    const { host, port, password } = parts();
    process.env.REDIS_HOST = host;
    process.env.REDIS_PORT = port;
    process.env.REDIS_DB = '5';
    if (password !== '') process.env.REDIS_PASSWORD = password;
    const c = await open({ keyPrefix: prefix });
    expect(await c.get('marker')).toBe('db5');
  });

  test('REDIS_URL wins over REDIS_HOST / REDIS_PORT', async () => {
    await redisCli(url, 'SET', `${prefix}marker`, '"url-wins"');
    process.env.REDIS_URL = url;
    process.env.REDIS_HOST = '127.0.0.1';
    process.env.REDIS_PORT = String(await freePort()); // nothing listens there
    const c = await open({ keyPrefix: prefix });
    expect(await c.get('marker')).toBe('url-wins');
  });

  test('the url option wins over REDIS_URL', async () => {
    process.env.REDIS_URL = `redis://127.0.0.1:${await freePort()}`; // nothing listens there
    const c = await open({ url, keyPrefix: prefix });
    expect(await c.set('k', 1)).toBe(true);
    expect(await redisCli(url, 'GET', `${prefix}k`)).toBe('1');
  });

  test('the db in the URL is really used', async () => {
    usedDbs.add(3);
    const c = await open({ url: urlWithDb(3), keyPrefix: prefix });
    await c.set('k', { db: 3 });
    expect(JSON.parse(await redisCli(url, '-n', '3', 'GET', `${prefix}k`))).toEqual({ db: 3 });
    expect(await redisCli(url, '-n', '0', 'EXISTS', `${prefix}k`)).toBe('0');
    // And reads come from that db too.
    await redisCli(url, '-n', '3', 'SET', `${prefix}w`, '"written-in-3"');
    expect(await c.get('w')).toBe('written-in-3');
  });
});

describe('bad configuration rejects with ERR_INVALID_ARGUMENT', () => {
  async function rejectsInvalid(options: unknown): Promise<void> {
    await expectRejectsWith(async () => {
      // If it unexpectedly resolves, close the client before failing.
      const c = await createClient(options as ClientOptions);
      await c.close();
      return c;
    }, 'ERR_INVALID_ARGUMENT');
  }

  // Built on the test server's address: a client that wrongly accepted one reaches only it.
  const { host, port } = parts();
  test.each([
    ['not a url'],
    [`http://${host}:${port}`],
    [`redis://${host}:notaport`],
    [`redis://${host}:99999`],
    [`redis://${host}:${port}/notadb`],
    [`redis://${host}:${port}/-1`],
  ])('url %p', async (bad) => {
    await rejectsInvalid(bad);
    await rejectsInvalid({ url: bad });
  });

  // Each bad option comes with the test URL, so a client that ignored the option would reach
  // the test server (never a foreign one).
  test.each<[string, Record<string, unknown>]>([
    ['keyPrefix not a string', { keyPrefix: 42 }],
    ['defaultTtl garbage', { defaultTtl: '5 parsecs' }],
    ['defaultTtl negative', { defaultTtl: -1 }],
    ['defaultTtl NaN', { defaultTtl: NaN }],
    ['local.maxEntries negative', { local: { maxEntries: -5 } }],
    ['local.maxBytes NaN', { local: { maxBytes: NaN } }],
    ['local.ttl garbage', { local: { ttl: 'soon' } }],
    ['connectTimeoutMs negative', { connectTimeoutMs: -1 }],
    ['commandTimeoutMs NaN', { commandTimeoutMs: NaN }],
    ['commandTimeoutMs a string', { commandTimeoutMs: '100' }],
    ['failFast not a boolean', { failFast: 'yes' }],
  ])('%s', async (_name, bad) => {
    await rejectsInvalid({ url, ...bad });
  });

  test('options of the wrong type altogether', async () => {
    await rejectsInvalid(42);
    await rejectsInvalid(true);
  });

  // A secret of the wrong type, or a URL (which may hold a password) where a list was due, is
  // refused without being shown.
  test.each<[string, Record<string, unknown>]>([
    ['a numeric sentinel.password', { sentinel: { name: 'm', nodes: [`redis://${host}:${port}`], password: 918273645 } }],
    ['a URL with a password as cluster', { cluster: `redis://:918273645@${host}:${port}` }],
    ['a URL with a password as sentinel.nodes', { sentinel: { name: 'm', nodes: `redis://:918273645@${host}:${port}` } }],
    ['a numeric url', { url: 918273645 }],
  ])('%s: the secret is not in the error', async (_name, bad) => {
    const err = await expectRejectsWith(() => createClient(bad as ClientOptions), 'ERR_INVALID_ARGUMENT');
    expect(err.message).not.toContain('918273645');
    expect(String(err.stack)).not.toContain('918273645');
  });
});

describe('when nothing listens', () => {
  test('failFast: true rejects with ERR_UNAVAILABLE', async () => {
    const port = await freePort();
    await expectRejectsWith(async () => {
      const c = await createClient({ url: `redis://127.0.0.1:${port}`, failFast: true, connectTimeoutMs: 500 });
      await c.close();
      return c;
    }, 'ERR_UNAVAILABLE');
  });

  test('without failFast createClient resolves and commands reject with ERR_UNAVAILABLE', async () => {
    const port = await freePort();
    const c = await open({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500, commandTimeoutMs: 1000, keyPrefix: prefix });
    await expectRejectsWith(() => c.get('k'), 'ERR_UNAVAILABLE');
    await expectRejectsWith(() => c.set('k', 1), 'ERR_UNAVAILABLE');
    await expectRejectsWith(() => c.incr('k'), 'ERR_UNAVAILABLE');
    await expectRejectsWith(() => c.mget(['a', 'b']), 'ERR_UNAVAILABLE');
    await expectRejectsWith(() => c.command(['PING']), 'ERR_UNAVAILABLE');
  });

  test('the cache helpers degrade instead of rejecting', async () => {
    const port = await freePort();
    const c = await open({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500, commandTimeoutMs: 1000, keyPrefix: prefix });
    expect(await c.cache.getOrSet('k', () => 'from-loader')).toBe('from-loader');
    expect(await c.cache.get('other')).toBeNull();
  });
});
