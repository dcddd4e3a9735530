/** Plain commands: values, TTLs, conditional writes, counters, batches, the escape hatch. On every backend. */
import { createClient } from '../index';
import type { Client } from '../index';
import { backends, globEscape, inspector, relaxed, uniquePrefix, waitFor } from './helpers';
import type { Inspector } from './helpers';

describe.each(backends)('$name', (backend) => {
  const { url } = backend;
  let client: Client;
  let prefix: string;
  let inspect: Inspector;

  /** The key as stored in the backend. */
  const full = (k: string) => prefix + k;

  beforeAll(async () => {
    inspect = await inspector(backend);
  });

  beforeEach(async () => {
    prefix = uniquePrefix('client');
    client = await createClient({ url, keyPrefix: prefix, ...relaxed });
  });

  afterEach(async () => {
    await client.close();
  });

  afterAll(async () => {
    await inspect.close();
  });

  async function pttl(k: string): Promise<number> {
    return Number(await inspect.cli('PTTL', full(k)));
  }

  describe('values', () => {
    const roundTrips: [string, unknown][] = [
      ['an object', { a: 1, b: 'two', c: [true, null], d: { e: -1.5 } }],
      ['an array', [1, 'x', { y: [] }, null, false]],
      ['an integer', 42],
      ['a negative float', -3.25],
      ['zero', 0],
      ['a string', 'hello'],
      ['a string that looks like a number', '123'],
      ['a string that looks like JSON', '{"a":1}'],
      ['an empty string', ''],
      ['a unicode string', 'héllo wörld ✓ 日本'],
      ['true', true],
      ['false', false],
      ['an empty object', {}],
    ];

    test.each(roundTrips)('%s round-trips through set/get', async (_name, value) => {
      expect(await client.set('v', value)).toBe(true);
      expect(await client.get('v')).toEqual(value);
    });

    test.each(roundTrips)('%s is stored as plain JSON that redis-cli (or any client) can read', async (_name, value) => {
      await client.set('v', value);
      const raw = await inspect.cli('GET', full('v'));
      expect(JSON.parse(raw)).toEqual(value);
    });

    test('null is stored as JSON null and reads back as null', async () => {
      expect(await client.set('n', null)).toBe(true);
      expect(await client.exists('n')).toBe(true);
      expect(await inspect.cli('GET', full('n'))).toBe('null');
      expect(await client.get('n')).toBeNull();
    });

    test('a missing key reads as null', async () => {
      expect(await client.get('missing')).toBeNull();
      expect(await client.getBuffer('missing')).toBeNull();
    });

    test('a value written outside the client (redis-cli) that is not JSON comes back as a string', async () => {
      await inspect.cli('SET', full('raw'), 'hello world');
      expect(await client.get('raw')).toBe('hello world');
      await inspect.cli('SET', full('raw2'), '{not json');
      expect(await client.get('raw2')).toBe('{not json');
    });

    test('a JSON value written outside the client (redis-cli) is parsed', async () => {
      await inspect.cli('SET', full('j'), '{"from":"cli","n":[1,2]}');
      expect(await client.get('j')).toEqual({ from: 'cli', n: [1, 2] });
      await inspect.cli('SET', full('num'), '17');
      expect(await client.get('num')).toBe(17);
    });

    test('a Buffer comes back byte-exact from getBuffer', async () => {
      const bytes = Buffer.alloc(256);
      for (let i = 0; i < 256; i++) bytes[i] = i;
      expect(await client.set('bin', bytes)).toBe(true);
      const back = await client.getBuffer('bin');
      expect(Buffer.isBuffer(back)).toBe(true);
      expect(back!.equals(bytes)).toBe(true);
      // Stored as the bytes themselves, not as JSON of a Buffer.
      expect(await inspect.cli('STRLEN', full('bin'))).toBe('256');
      const viaCli = await inspect.cliBuffer('GET', full('bin'));
      expect(viaCli.subarray(0, 256).equals(bytes)).toBe(true);
    });

    test('a value that is not UTF-8 comes back from get as a Buffer', async () => {
      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]);
      await client.set('bin', bytes);
      const back = await client.get('bin');
      expect(Buffer.isBuffer(back)).toBe(true);
      expect((back as Buffer).equals(bytes)).toBe(true);
    });

    test('a non-UTF-8 value written outside the client comes back as a Buffer', async () => {
      const bytes = Buffer.from([0x80, 0x81, 0xfe, 0xff]);
      await inspect.cliBuffer('SET', full('cli-bin'), bytes);
      const back = await client.get('cli-bin');
      expect(Buffer.isBuffer(back)).toBe(true);
      expect((back as Buffer).equals(bytes)).toBe(true);
    });

    test('getBuffer returns the raw bytes of a JSON value', async () => {
      await client.set('o', { a: 1 });
      const back = await client.getBuffer('o');
      expect(back).not.toBeNull();
      expect(JSON.parse(back!.toString('utf8'))).toEqual({ a: 1 });
    });

    test('the keyPrefix is applied to every key', async () => {
      await client.set('pk', 'v');
      expect(await inspect.cli('GET', full('pk'))).toBe('"v"');
      // The only key written is the prefixed one.
      expect(await inspect.scanKeys(globEscape(prefix) + '*')).toEqual([full('pk')]);
      expect(await client.exists('pk')).toBe(true);
    });
  });

  describe('set options', () => {
    test('without ttl the key never expires', async () => {
      await client.set('k', 1);
      expect(await client.ttl('k')).toBe(-1);
    });

    test('ttl as a number of seconds', async () => {
      await client.set('k', 1, { ttl: 100 });
      const t = await client.ttl('k');
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThanOrEqual(100);
      const cliTtl = Number(await inspect.cli('TTL', full('k')));
      expect(cliTtl).toBeGreaterThan(0);
      expect(cliTtl).toBeLessThanOrEqual(100);
    });

    test.each([
      ['2s', 2_000],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['1d', 86_400_000],
    ])('ttl as a string %s', async (ttl, maxMs) => {
      await client.set('k', 1, { ttl });
      const p = await pttl('k');
      // -2: a short ttl may already have passed on a very loaded machine.
      if (p !== -2) {
        expect(p).toBeGreaterThan(maxMs / 10);
        expect(p).toBeLessThanOrEqual(maxMs);
      }
    });

    test("ttl '500ms' is milliseconds, and the key does expire", async () => {
      await client.set('k', 1, { ttl: '500ms' });
      const p = await pttl('k');
      if (p !== -2) {
        expect(p).toBeGreaterThan(0);
        expect(p).toBeLessThanOrEqual(500);
      }
      await waitFor(async () => !(await client.exists('k')), 10000, 50, 'key expired');
      expect(await client.get('k')).toBeNull();
    });

    test('nx writes only when the key is missing', async () => {
      expect(await client.set('k', 'first', { nx: true })).toBe(true);
      expect(await client.set('k', 'second', { nx: true })).toBe(false);
      expect(await client.get('k')).toBe('first');
    });

    test('xx writes only when the key exists', async () => {
      expect(await client.set('k', 'x', { xx: true })).toBe(false);
      expect(await client.exists('k')).toBe(false);
      await client.set('k', 'a');
      expect(await client.set('k', 'b', { xx: true })).toBe(true);
      expect(await client.get('k')).toBe('b');
    });

    test('nx with ttl', async () => {
      expect(await client.set('k', 1, { nx: true, ttl: 100 })).toBe(true);
      const t = await client.ttl('k');
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThanOrEqual(100);
    });
  });

  describe('keys', () => {
    test('del one key', async () => {
      await client.set('a', 1);
      expect(await client.del('a')).toBe(1);
      expect(await client.exists('a')).toBe(false);
      expect(await client.del('a')).toBe(0);
    });

    test('del many keys counts only those that existed', async () => {
      await client.set('a', 1);
      await client.set('b', 2);
      expect(await client.del(['a', 'b', 'c'])).toBe(2);
      // One key a command: on Redis Cluster, keys of other slots cannot share one.
      for (const key of ['a', 'b']) expect(await inspect.cli('EXISTS', full(key))).toBe('0');
    });

    test('del of an empty list is 0', async () => {
      expect(await client.del([])).toBe(0);
    });

    test('exists', async () => {
      expect(await client.exists('e')).toBe(false);
      await client.set('e', 0);
      expect(await client.exists('e')).toBe(true);
    });

    test('expire sets a ttl on an existing key and reports a missing one', async () => {
      await client.set('k', 1);
      expect(await client.expire('k', 120)).toBe(true);
      const t = await client.ttl('k');
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThanOrEqual(120);
      expect(await client.expire('k', '10m')).toBe(true);
      expect(await client.ttl('k')).toBeGreaterThan(120);
      expect(await client.expire('missing', 10)).toBe(false);
      expect(await client.exists('missing')).toBe(false);
    });

    test('ttl is -1 without expiry and -2 when missing', async () => {
      await client.set('k', 1);
      expect(await client.ttl('k')).toBe(-1);
      expect(await client.ttl('missing')).toBe(-2);
    });
  });

  describe('counters', () => {
    test('incr by 1 and by n', async () => {
      expect(await client.incr('c')).toBe(1);
      expect(await client.incr('c')).toBe(2);
      expect(await client.incr('c', 5)).toBe(7);
      expect(await client.get('c')).toBe(7);
      expect(await inspect.cli('GET', full('c'))).toBe('7');
    });

    test('incr works on a number written with set', async () => {
      await client.set('c', 10);
      expect(await client.incr('c')).toBe(11);
    });

    test('incr with ttl sets the ttl when the call creates the key', async () => {
      expect(await client.incr('c', 1, { ttl: 100 })).toBe(1);
      const t = await client.ttl('c');
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThanOrEqual(100);
    });

    test('incr with ttl does not add a ttl to an existing key', async () => {
      await client.incr('c');
      expect(await client.ttl('c')).toBe(-1);
      expect(await client.incr('c', 1, { ttl: 100 })).toBe(2);
      expect(await client.ttl('c')).toBe(-1);
    });

    test('incr with ttl does not reset the ttl of an existing key', async () => {
      await client.incr('c', 1, { ttl: 100 });
      await client.expire('c', 1000);
      expect(await client.incr('c', 1, { ttl: 100 })).toBe(2);
      expect(await client.ttl('c')).toBeGreaterThan(100);
    });

    test('incr with a string ttl', async () => {
      await client.incr('c', 3, { ttl: '2m' });
      const t = await client.ttl('c');
      expect(t).toBeGreaterThan(60);
      expect(t).toBeLessThanOrEqual(120);
    });

    test('decr by 1 and by n, below zero', async () => {
      expect(await client.decr('d')).toBe(-1);
      expect(await client.decr('d', 3)).toBe(-4);
      expect(await client.incr('d', -1)).toBe(-5);
    });
  });

  describe('batches', () => {
    test('mget keeps the order and returns null for misses', async () => {
      await client.set('a', 1);
      await client.set('c', { x: 'y' });
      expect(await client.mget(['a', 'b', 'c', 'a'])).toEqual([1, null, { x: 'y' }, 1]);
    });

    test('mget of an empty list', async () => {
      expect(await client.mget([])).toEqual([]);
    });

    test('mset writes every entry with its own ttl', async () => {
      await client.mset([
        { key: 'a', value: { n: 1 } },
        { key: 'b', value: 'two', ttl: 100 },
        { key: 'c', value: [3], ttl: '10m' },
      ]);
      expect(await client.mget(['a', 'b', 'c'])).toEqual([{ n: 1 }, 'two', [3]]);
      expect(await client.ttl('a')).toBe(-1);
      const tb = await client.ttl('b');
      expect(tb).toBeGreaterThan(0);
      expect(tb).toBeLessThanOrEqual(100);
      const tc = await client.ttl('c');
      expect(tc).toBeGreaterThan(100);
      expect(tc).toBeLessThanOrEqual(600);
      expect(JSON.parse(await inspect.cli('GET', full('a')))).toEqual({ n: 1 });
    });

    test('mset of an empty list', async () => {
      await expect(client.mset([])).resolves.toBeUndefined();
    });

    test('getdel returns the value and deletes the key', async () => {
      await client.set('g', { v: 1 });
      expect(await client.getdel('g')).toEqual({ v: 1 });
      expect(await client.exists('g')).toBe(false);
      expect(await client.getdel('g')).toBeNull();
    });
  });

  describe('command (escape hatch)', () => {
    test('PING', async () => {
      expect(await client.command(['PING'])).toBe('PONG');
    });

    test('keys are not prefixed', async () => {
      await client.set('k', 1);
      expect(await client.command(['EXISTS', full('k')])).toBe(1);
    });

    test('HSET and HGET on a full key', async () => {
      expect(await client.command(['HSET', full('h'), 'f', 'v', 'n', 2])).toBe(2);
      expect(await inspect.cli('HGET', full('h'), 'f')).toBe('v');
      expect(await client.command(['HGET', full('h'), 'n'])).toBe('2');
      expect(await client.command(['HGET', full('h'), 'missing'])).toBeNull();
    });

    test('number and Buffer arguments; bulk replies are strings', async () => {
      expect(await client.command(['SET', full('n'), 42])).toBe('OK');
      expect(await client.get('n')).toBe(42);
      expect(await client.command(['GET', full('n')])).toBe('42');
      await client.command(['SET', full('b'), Buffer.from([0xff, 0x00, 0x01])]);
      const back = await client.command(['GET', full('b')]);
      expect(Buffer.isBuffer(back)).toBe(true);
      expect((back as Buffer).equals(Buffer.from([0xff, 0x00, 0x01]))).toBe(true);
    });

    test('array replies', async () => {
      await client.command(['RPUSH', full('l'), 'a', 'b', 'c']);
      expect(await client.command(['LRANGE', full('l'), 0, -1])).toEqual(['a', 'b', 'c']);
    });
  });
});
