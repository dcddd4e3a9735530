/** Shared test helpers. Every test gets its own keyPrefix: files run in parallel on one Redis. */
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import type { Client, ClientOptions, ErrorCode, FerroError, LocalTierOptions } from '../index';

export { freePort, startRedis } from './setup/redis-server';
export type { RedisServer } from './setup/redis-server';

/** The Redis the whole run shares (started by globalSetup, or REDIS_URL). */
export function testUrl(): string {
  const url = process.env.FERRO_TEST_URL;
  if (url === undefined || url === '') {
    throw new Error('FERRO_TEST_URL is not set: run the tests through jest (globalSetup starts Redis)');
  }
  return url;
}

/**
 * Spread into the options of clients whose test is not about timeouts: a loaded CI machine can
 * take longer than the 1 s default for a command, and no test may fail on a speed.
 */
export const relaxed = { commandTimeoutMs: 15_000, connectTimeoutMs: 15_000 } as const;

const issuedPrefixes = new Set<string>();

/** `t:<name>:<random>:` — holds no glob character. */
export function uniquePrefix(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '_');
  const prefix = `t:${safe}:${randomBytes(6).toString('hex')}:`;
  issuedPrefixes.add(prefix);
  return prefix;
}

/** Escapes the Redis glob characters of a literal. */
export function globEscape(literal: string): string {
  return literal.replace(/[\\*?[\]]/g, (c) => '\\' + c);
}

export interface CliOptions {
  /** Written to redis-cli's stdin (use with `-x`). */
  input?: Buffer | string;
}

/** `redis-cli -u <url> ...args`, raw bytes of stdout. */
export function redisCliBuffer(url: string, args: string[], opts: CliOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'redis-cli',
      ['-u', url, ...args],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 20000 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message} ${stderr.toString()}`));
          return;
        }
        resolve(stdout);
      },
    );
    child.stdin?.end(opts.input);
  });
}

/**
 * `redis-cli -u <url> ...args` (an independent view of what the client wrote). Output is in
 * redis-cli's raw mode (stdout is not a TTY): the value itself, `''` for nil; one trailing
 * newline is removed. Options such as `-n 3` go before the command.
 */
export async function redisCli(url: string, ...args: string[]): Promise<string> {
  const out = (await redisCliBuffer(url, args)).toString('utf8');
  return out.endsWith('\n') ? out.slice(0, -1) : out;
}

/** Every key matching a glob, once each, through `redis-cli --scan` (never KEYS). */
export async function scanKeys(url: string, pattern: string, db?: number): Promise<string[]> {
  const dbArgs = db === undefined ? [] : ['-n', String(db)];
  const out = await redisCli(url, ...dbArgs, '--scan', '--pattern', pattern);
  // SCAN may return a key more than once (e.g. while the table is rehashing).
  return Array.from(new Set(out.split('\n').filter((k) => k !== '')));
}

/**
 * Deletes every key under the given prefixes (default: every prefix this file issued). One SCAN
 * of the keyspace for all of them (a file may issue hundreds of prefixes), filtered here.
 */
export async function cleanupPrefixes(url: string = testUrl(), prefixes: Iterable<string> = issuedPrefixes, db?: number): Promise<void> {
  const dbArgs = db === undefined ? [] : ['-n', String(db)];
  const keys = await keysUnder(prefixes, (pattern) => scanKeys(url, pattern, db));
  for (let i = 0; i < keys.length; i += 500) {
    await redisCli(url, ...dbArgs, 'UNLINK', ...keys.slice(i, i + 500)).catch(() => undefined);
  }
}

/** The keys under `prefixes`, found by one `scan(pattern)` of what they all start with. */
async function keysUnder(prefixes: Iterable<string>, scan: (pattern: string) => Promise<string[]>): Promise<string[]> {
  const list = Array.from(prefixes);
  if (list.length === 0) return [];
  const common = list.reduce((a, b) => {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return a.slice(0, i);
  });
  const found = await scan(globEscape(common) + '*').catch(() => [] as string[]);
  return found.filter((k) => list.some((p) => k.startsWith(p)));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `cond` until it returns a truthy value (a throw counts as falsy) and returns that value;
 * throws after `timeoutMs` with the last error. For outcomes that happen eventually (a reconnect,
 * an event), never to measure speed.
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  timeoutMs = 10000,
  intervalMs = 50,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms${detail}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Calls `fn` and returns what its promise rejected with. Fails the test when it resolves, or
 * when `fn` throws synchronously (the API promises a rejected promise, not a throw).
 */
export async function rejectionOf(fn: () => unknown): Promise<unknown> {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    throw new Error(`expected a rejected promise, but the call threw synchronously: ${String(err)}`);
  }
  if (!(result instanceof Promise) && !(result !== null && typeof result === 'object' && 'then' in result)) {
    throw new Error(`expected a promise, got ${typeof result}`);
  }
  try {
    const value = await result;
    throw new ResolvedError(value);
  } catch (err) {
    if (err instanceof ResolvedError) {
      throw new Error(`expected a rejection, but it resolved with ${describe(err.value)}`);
    }
    return err;
  }
}

class ResolvedError {
  constructor(readonly value: unknown) {}
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Asserts a FerroError with one of `codes` (branching on the code, never on the message). */
export function expectFerroError(err: unknown, codes: ErrorCode | ErrorCode[]): FerroError {
  const allowed = Array.isArray(codes) ? codes : [codes];
  // Loaded lazily so the harness helpers work before the addon is built.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { FerroError: FerroErrorClass } = require('../index') as typeof import('../index');
  if (!(err instanceof FerroErrorClass)) {
    throw new Error(`expected a FerroError (${allowed.join(' | ')}), got ${err instanceof Error ? `${err.name}: ${err.message}` : describe(err)}`);
  }
  expect(err).toBeInstanceOf(Error);
  expect(err.name).toBe('FerroError');
  expect(allowed).toContain(err.code);
  return err;
}

/** `fn()` rejects with a FerroError of one of `codes`. */
export async function expectRejectsWith(fn: () => unknown, codes: ErrorCode | ErrorCode[]): Promise<FerroError> {
  return expectFerroError(await rejectionOf(fn), codes);
}

/** Whether `err` is `cause` or wraps it (`err.cause`). */
export function isOrWraps(err: unknown, cause: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    if (e === cause) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The run's Redis Cluster (`redis+cluster://...`), or undefined when REDIS_URL named an external Redis. */
export function testClusterUrl(): string | undefined {
  const url = process.env.FERRO_TEST_CLUSTER_URL;
  return url === undefined || url === '' ? undefined : url;
}

/** `redis://host:port` of every node a `redis+cluster://` URL lists. */
export function clusterNodeUrls(clusterUrl: string): string[] {
  return clusterUrl
    .replace(/^redis\+cluster:\/\//, '')
    .split(',')
    .map((hostPort) => `redis://${hostPort}`);
}

/** A backend the conformance specs run on. */
export interface TestBackend {
  readonly name: 'redis' | 'memory' | 'cluster';
  /** What clients of this backend open. */
  readonly url: string;
}

/**
 * The backends every conformance spec runs on, for `describe.each(backends)('$name', ...)`:
 * the run's Redis (FERRO_TEST_URL), a `memory://` store of this test file, shared by every
 * client the file opens on it, as the Redis is (each test keeps its own keyPrefix), and the
 * run's Redis Cluster when globalSetup started one (not with an external REDIS_URL).
 */
export const backends: readonly TestBackend[] = [
  {
    name: 'redis',
    get url() {
      return testUrl();
    },
  },
  { name: 'memory', url: `memory://t-${randomBytes(6).toString('hex')}` },
  ...clusterBackend(),
];

function clusterBackend(): TestBackend[] {
  const url = testClusterUrl();
  return url === undefined ? [] : [{ name: 'cluster', url }];
}

/**
 * The `local` option of a client whose test is about the L1 tier itself (bounds, ttls, the
 * evictions this client's own writes make at once), not about coherence with other clients.
 * On Redis Cluster the invalidation subscribers also report this client's own writes (NOLOOP
 * cannot apply there: src/backend/cluster/coherence.rs), so a value it has just written leaves
 * its L1 again as soon as the echo arrives; such tests use coherence 'ttl' there, and
 * cluster.spec.ts covers coherence on Cluster, echo included.
 */
export function l1Tier(backend: TestBackend, local?: false | LocalTierOptions): false | LocalTierOptions | undefined {
  if (backend.name !== 'cluster' || local === false) return local;
  return { ...local, coherence: 'ttl' };
}

/** Every key matching a glob on every node of a cluster, once each. */
export async function scanClusterKeys(clusterUrl: string, pattern: string): Promise<string[]> {
  const perNode = await Promise.all(clusterNodeUrls(clusterUrl).map((node) => scanKeys(node, pattern)));
  return Array.from(new Set(perNode.flat()));
}

/** Deletes every key under `prefixes` on every node of a cluster, one UNLINK a key (keys of a node span slots). */
async function cleanupClusterPrefixes(clusterUrl: string, prefixes: Iterable<string> = issuedPrefixes): Promise<void> {
  for (const node of clusterNodeUrls(clusterUrl)) {
    const keys = await keysUnder(prefixes, (pattern) => scanKeys(node, pattern));
    if (keys.length === 0) continue;
    // redis-cli runs the commands it reads from stdin; JSON quoting is what it parses.
    const script = keys.map((k) => `UNLINK ${JSON.stringify(k)}`).join('\n') + '\n';
    await redisCliBuffer(node, [], { input: script }).catch(() => undefined);
  }
}

/**
 * A view of what a backend stores that does not go through the client under test's keyPrefix,
 * L1 or decoding, so assertions on stored data read the same on every backend.
 */
export interface Inspector {
  /**
   * A command, answered as `redisCli` answers it (redis-cli's raw output: the value, `''` for
   * nil, array elements one a line). A Buffer argument must come last (redis-cli reads it from
   * stdin with `-x`).
   */
  cli(...args: (string | Buffer)[]): Promise<string>;
  /** The same, as the raw bytes of the output (with redis-cli's trailing newline). */
  cliBuffer(...args: (string | Buffer)[]): Promise<Buffer>;
  /** Every key matching a glob, once each (SCAN, never KEYS). */
  scanKeys(pattern: string): Promise<string[]>;
  /** Lets go of this file's data: its keys on Redis are deleted, a memory:// store is freed with its last client. */
  close(): Promise<void>;
}

/**
 * On Redis, redis-cli itself (an independent client). On memory://, where nothing outside the
 * process can look, a second client of the same store without keyPrefix and without L1, whose
 * `command()` replies are printed the way redis-cli prints them.
 */
export async function inspector(backend: TestBackend): Promise<Inspector> {
  if (backend.name === 'redis' || backend.name === 'cluster') {
    const cluster = backend.name === 'cluster';
    // On a cluster, `redis-cli -c` on any node follows MOVED to the key's master.
    const url = cluster ? clusterNodeUrls(backend.url)[0] : backend.url;
    const follow = cluster ? ['-c'] : [];
    const viaCli = (args: (string | Buffer)[]) => {
      const last = args[args.length - 1];
      if (!Buffer.isBuffer(last)) return redisCliBuffer(url, [...follow, ...args.map(String)]);
      return redisCliBuffer(url, [...follow, '-x', ...args.slice(0, -1).map(String)], { input: last });
    };
    return {
      cli: async (...args) => {
        const out = (await viaCli(args)).toString('utf8');
        return out.endsWith('\n') ? out.slice(0, -1) : out;
      },
      cliBuffer: (...args) => viaCli(args),
      scanKeys: (pattern) => (cluster ? scanClusterKeys(backend.url, pattern) : scanKeys(url, pattern)),
      close: () => (cluster ? cleanupClusterPrefixes(backend.url) : cleanupPrefixes(url)),
    };
  }
  // Loaded lazily, like expectFerroError: the harness helpers work before the addon is built.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { createClient } = require('../index') as typeof import('../index');
  const client = await createClient({ url: backend.url, local: false, ...relaxed });
  const run = (args: (string | Buffer)[]) => client.command(args);
  return {
    cli: async (...args) => rawText(await run(args)),
    cliBuffer: async (...args) => Buffer.concat([rawBytes(await run(args)), Buffer.from('\n')]),
    scanKeys: async (pattern) => {
      const keys = new Set<string>();
      let cursor = '0';
      do {
        const [next, batch] = (await run(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'])) as [string, string[]];
        batch.forEach((k) => keys.add(k));
        cursor = next;
      } while (cursor !== '0');
      return Array.from(keys);
    },
    close: () => client.close(),
  };
}

/** A `command()` reply as redis-cli prints it in raw mode (without the final newline). */
function rawText(reply: unknown): string {
  return rawBytes(reply).toString('utf8');
}

/** The bytes of `rawText`. */
function rawBytes(reply: unknown): Buffer {
  if (reply === null || reply === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(reply)) return reply;
  if (Array.isArray(reply)) {
    const parts: Buffer[] = [];
    reply.forEach((item, i) => {
      if (i > 0) parts.push(Buffer.from('\n'));
      parts.push(rawBytes(item));
    });
    return Buffer.concat(parts);
  }
  return Buffer.from(String(reply), 'utf8');
}

/** What `conformanceScope` gives a spec: see there. */
export interface ConformanceScope {
  /** A client of the backend under this test's keyPrefix (relaxed timeouts; L1 as `l1Tier`), closed after the test. */
  open(options?: Omit<ClientOptions, 'url' | 'keyPrefix'>): Promise<Client>;
  /** A key as stored (this test's keyPrefix in front). */
  full(key: string): string;
  /** The file's inspector (set in beforeAll). */
  inspect(): Inspector;
}

/**
 * The hooks every conformance spec repeats, registered once: a fresh keyPrefix per test, its
 * clients closed after it, one inspector for the file, its data let go at the end. Call inside
 * `describe.each(backends)`.
 */
export function conformanceScope(backend: TestBackend, name: string): ConformanceScope {
  const clients: Client[] = [];
  let prefix = '';
  let inspect: Inspector | undefined;
  beforeAll(async () => {
    inspect = await inspector(backend);
  });
  beforeEach(() => {
    prefix = uniquePrefix(name);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await inspect?.close();
  });
  return {
    async open(options = {}) {
      // Loaded lazily, as in expectFerroError.
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { createClient } = require('../index') as typeof import('../index');
      const c = await createClient({ url: backend.url, keyPrefix: prefix, ...relaxed, ...options, local: l1Tier(backend, options.local) });
      clients.push(c);
      return c;
    },
    full: (key) => prefix + key,
    inspect() {
      if (inspect === undefined) throw new Error('conformanceScope: the inspector is set in beforeAll');
      return inspect;
    },
  };
}
