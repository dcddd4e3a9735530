/**
 * Bad input rejects with FerroError ERR_INVALID_ARGUMENT (a rejected promise, not a throw) and
 * leaves stored data untouched. Server-side failures are ERR_REDIS. On every backend.
 */
import { createClient, FerroError } from '../index';
import type { Client } from '../index';
import { backends, expectRejectsWith, globEscape, inspector, rejectionOf, relaxed, uniquePrefix } from './helpers';
import type { Inspector } from './helpers';

describe.each(backends)('$name', (backend) => {
  const { url } = backend;
  let client: Client;
  let prefix: string;
  let inspect: Inspector;

  const ORIGINAL = { v: 1, s: 'original' };

  beforeAll(async () => {
    inspect = await inspector(backend);
  });

  beforeEach(async () => {
    prefix = uniquePrefix('errors');
    client = await createClient({ url, keyPrefix: prefix, ...relaxed });
    await client.set('k', ORIGINAL);
    await client.set('n', 5);
    await client.cache.set('cached', ORIGINAL);
  });

  afterEach(async () => {
    await client.close();
  });

  afterAll(async () => {
    await inspect.close();
  });

  /** What was stored before the bad call is still there, and nothing else was written. */
  async function expectUntouched(): Promise<void> {
    expect(await client.get('k')).toEqual(ORIGINAL);
    expect(await client.get('n')).toBe(5);
    expect(await client.ttl('k')).toBe(-1);
    expect(await client.ttl('n')).toBe(-1);
    expect(await client.cache.get('cached')).toEqual(ORIGINAL);
    expect((await inspect.scanKeys(globEscape(prefix) + '*')).sort()).toEqual(
      [prefix + 'cached', prefix + 'k', prefix + 'n'].sort(),
    );
  }

  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const deepCircular: Record<string, unknown> = { list: [] as unknown[] };
  (deepCircular.list as unknown[]).push({ back: deepCircular });

  // `as any` on purpose: these are the mistakes of untyped callers.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const badCalls: [string, (c: Client) => unknown][] = [
    // keys
    ['set with an empty key', (c) => c.set('', 1)],
    ['get with an empty key', (c) => c.get('')],
    ['getBuffer with an empty key', (c) => c.getBuffer('')],
    ['del with an empty key', (c) => c.del('')],
    ['del with an empty key in a list', (c) => c.del(['k', ''])],
    ['exists with an empty key', (c) => c.exists('')],
    ['incr with an empty key', (c) => c.incr('')],
    ['set with a number key', (c) => c.set(42 as any, 1)],
    ['set with an undefined key', (c) => c.set(undefined as any, 1)],
    ['set with an object key', (c) => c.set({ k: 1 } as any, 1)],
    ['set with a null key', (c) => c.set(null as any, 1)],
    ['get with a number key', (c) => c.get(42 as any)],
    ['get with an object key', (c) => c.get({} as any)],
    ['del with a number in a list', (c) => c.del(['k', 7 as any])],
    ['mget with a non-array', (c) => c.mget('k' as any)],
    ['mget with a non-string key', (c) => c.mget(['k', 1 as any])],
    ['mset with an empty key', (c) => c.mset([{ key: '', value: 1 }])],
    ['cache.set with an empty key', (c) => c.cache.set('', 1)],
    ['cache.get with an empty key', (c) => c.cache.get('')],
    ['cache.getOrSet with an empty key', (c) => c.cache.getOrSet('', () => 1)],
    ['cache.getOrSet with a number key', (c) => c.cache.getOrSet(1 as any, () => 1)],
    ['cache.delete with an empty key', (c) => c.cache.delete('')],

    // TTLs
    ['set with ttl NaN', (c) => c.set('k', 2, { ttl: NaN })],
    ['set with a negative ttl', (c) => c.set('k', 2, { ttl: -1 })],
    ['set with ttl Infinity', (c) => c.set('k', 2, { ttl: Infinity })],
    ["set with ttl '5 parsecs'", (c) => c.set('k', 2, { ttl: '5 parsecs' })],
    ["set with ttl '-5s'", (c) => c.set('k', 2, { ttl: '-5s' })],
    ["set with ttl ''", (c) => c.set('k', 2, { ttl: '' })],
    ['set with ttl of the wrong type', (c) => c.set('k', 2, { ttl: {} as any })],
    ['expire with ttl NaN', (c) => c.expire('k', NaN)],
    ['expire with a negative ttl', (c) => c.expire('k', -5)],
    ["expire with ttl 'soon'", (c) => c.expire('k', 'soon')],
    ['incr with ttl NaN', (c) => c.incr('new-counter', 1, { ttl: NaN })],
    ['mset with one bad ttl', (c) => c.mset([{ key: 'k', value: 2 }, { key: 'z', value: 1, ttl: NaN }])],
    ['cache.set with ttl NaN', (c) => c.cache.set('cached', 2, { ttl: NaN })],
    ["cache.set with ttl '5 parsecs'", (c) => c.cache.set('cached', 2, { ttl: '5 parsecs' })],
    ['cache.set with localTtl -1', (c) => c.cache.set('cached', 2, { localTtl: -1 })],
    ['cache.getOrSet with ttl Infinity', (c) => c.cache.getOrSet('new', () => 1, { ttl: Infinity })],

    // values
    ['set with value undefined', (c) => c.set('k', undefined)],
    ['set with a BigInt', (c) => c.set('k', BigInt(10))],
    ['set with a BigInt inside an object', (c) => c.set('k', { n: BigInt(1) })],
    ['set with a circular object', (c) => c.set('k', circular)],
    ['set with a deeply circular object', (c) => c.set('k', deepCircular)],
    ['set with a function', (c) => c.set('k', () => 1)],
    ['set with a symbol', (c) => c.set('k', Symbol('s'))],
    ['mset with an undefined value', (c) => c.mset([{ key: 'k', value: 2 }, { key: 'z', value: undefined }])],
    ['mset with a circular value', (c) => c.mset([{ key: 'k', value: 2 }, { key: 'z', value: circular }])],
    ['mset with a non-array', (c) => c.mset({ key: 'k', value: 1 } as any)],
    ['cache.set with value undefined', (c) => c.cache.set('cached', undefined)],
    ['cache.set with a BigInt', (c) => c.cache.set('cached', BigInt(1))],
    ['cache.set with a circular object', (c) => c.cache.set('cached', circular)],
    ['cache.getOrSet with a loader that is not a function', (c) => c.cache.getOrSet('new', 5 as any)],
    ['cache.getOrSet with a loader returning a BigInt', (c) => c.cache.getOrSet('new', () => BigInt(1))],
    ['cache.getOrSet with a loader returning a circular object', (c) => c.cache.getOrSet('new', () => circular)],

    // options
    ['set with nx and xx together', (c) => c.set('k', 2, { nx: true, xx: true })],
    ['incr by NaN', (c) => c.incr('n', NaN)],
    ['incr by Infinity', (c) => c.incr('n', Infinity)],
    ['incr by a string', (c) => c.incr('n', '1' as any)],
    ['decr by NaN', (c) => c.decr('n', NaN)],
    ['cache.set with tags that are not an array', (c) => c.cache.set('cached', 2, { tags: 'a' as any })],
    ['invalidateTags with a non-array', (c) => c.cache.invalidateTags('t' as any)],
    ['command with an empty list', (c) => c.command([])],
    ['command with a non-array', (c) => c.command('PING' as any)],
    ['command with an object argument', (c) => c.command(['SET', prefix + 'k', {} as any])],
  ];
  /* eslint-enable @typescript-eslint/no-explicit-any */

  test.each(badCalls)('%s rejects with ERR_INVALID_ARGUMENT and changes nothing', async (_name, call) => {
    const err = await expectRejectsWith(() => call(client), 'ERR_INVALID_ARGUMENT');
    expect(err).toBeInstanceOf(FerroError);
    expect(err).toBeInstanceOf(Error);
    expect(typeof err.message).toBe('string');
    await expectUntouched();
  });

  test('the client still works after bad input', async () => {
    await rejectionOf(() => client.set('', 1));
    await rejectionOf(() => client.set('k', BigInt(1)));
    expect(await client.set('ok', 1)).toBe(true);
    expect(await client.get('ok')).toBe(1);
  });

  describe('server-side failures are ERR_REDIS', () => {
    test('incr on a value that is not an integer', async () => {
      await expectRejectsWith(() => client.incr('k'), 'ERR_REDIS');
      expect(await client.get('k')).toEqual(ORIGINAL);
    });

    test('an unknown command', async () => {
      await expectRejectsWith(() => client.command(['NO-SUCH-COMMAND']), 'ERR_REDIS');
    });

    test('a command on a key of the wrong type', async () => {
      await expectRejectsWith(() => client.command(['LPUSH', prefix + 'k', 'x']), 'ERR_REDIS');
      expect(await client.get('k')).toEqual(ORIGINAL);
    });

    test('one failing command does not disturb the others of the same batch', async () => {
      const [a, b, c] = await Promise.allSettled([client.get('k'), client.incr('k'), client.get('n')]);
      expect(a).toEqual({ status: 'fulfilled', value: ORIGINAL });
      expect(b.status).toBe('rejected');
      expect(c).toEqual({ status: 'fulfilled', value: 5 });
    });
  });
});

test('FerroError is a real class with a code', () => {
  const e = new FerroError('ERR_TIMEOUT', 'took too long');
  expect(e).toBeInstanceOf(Error);
  expect(e).toBeInstanceOf(FerroError);
  expect(e.code).toBe('ERR_TIMEOUT');
  expect(e.name).toBe('FerroError');
  expect(e.message).toBe('took too long');
});

/**
 * An error the addon throws synchronously crosses with its FerroError code as `err.code` (its
 * Node-API status, src/error.rs), so nothing parses it out of the message.
 */
test('an error the addon throws carries its FerroError code as err.code', async () => {
  const client = await createClient({ url: 'memory://' });
  try {
    const native = (client as unknown as { _native: { scriptSha(name: string): string } })._native;
    let thrown: unknown;
    try {
      native.scriptSha('no-such-script');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  } finally {
    await client.close();
  }
});
