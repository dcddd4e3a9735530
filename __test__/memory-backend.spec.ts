/** The embedded `memory://` backend: what only it does (named and private stores, freeing, maxBytes). */
import { randomBytes } from 'crypto';
import { createClient } from '../index';
import type { Client } from '../index';
import { expectRejectsWith, uniquePrefix, waitFor } from './helpers';

const opened: Client[] = [];

/** A client of `url`, closed after the test. */
async function open(url: string, keyPrefix = uniquePrefix('memory')): Promise<Client> {
  const client = await createClient({ url, keyPrefix });
  opened.push(client);
  return client;
}

/** A store name no other test uses. */
const storeName = (what: string) => `${what}-${randomBytes(6).toString('hex')}`;

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

describe('stores', () => {
  test('clients naming the same store share its keys; other names and private stores do not', async () => {
    const name = storeName('shared');
    const a = await open(`memory://${name}`, 'app:');
    const b = await open(`memory://${name}`, 'app:');
    const other = await open(`memory://${storeName('other')}`, 'app:');
    const priv = await open('memory://', 'app:');
    await a.set('greeting', { hello: 'world' });
    expect(await b.get('greeting')).toEqual({ hello: 'world' });
    expect(await other.get('greeting')).toBeNull();
    expect(await priv.get('greeting')).toBeNull();
    await b.del('greeting');
    expect(await a.exists('greeting')).toBe(false);
  });

  test('two private stores are separate', async () => {
    const a = await open('memory://', 'p:');
    const b = await open('memory://', 'p:');
    await a.set('k', 1);
    expect(await b.get('k')).toBeNull();
  });

  test('a named store lives while one client uses it and is freed after the last close', async () => {
    const url = `memory://${storeName('lifetime')}`;
    const a = await createClient({ url, keyPrefix: 'x:' });
    const b = await createClient({ url, keyPrefix: 'x:' });
    await a.set('k', 'v');
    await a.close();
    expect(await b.get('k')).toBe('v');
    await b.close();
    const c = await open(url, 'x:');
    expect(await c.get('k')).toBeNull();
  });

  test('a closed client rejects with ERR_CLOSED and reports unhealthy', async () => {
    const client = await createClient('memory://');
    await client.set('k', 1);
    await client.close();
    await expectRejectsWith(() => client.get('k'), 'ERR_CLOSED');
    expect((await client.health()).status).toBe('unhealthy');
  });

  test('a bad memory:// URL is an invalid argument', async () => {
    await expectRejectsWith(() => createClient('memory://x?maxBytes=lots'), 'ERR_INVALID_ARGUMENT');
    await expectRejectsWith(() => createClient('memory://x?size=1'), 'ERR_INVALID_ARGUMENT');
  });
});

describe('maxBytes', () => {
  test('evicts the least recently used keys and counts them', async () => {
    const client = await open(`memory://${storeName('bounded')}?maxBytes=16384`, 'b:');
    const value = 'x'.repeat(500);
    await client.set('first', value);
    await client.set('kept', value);
    for (let i = 0; i < 100; i++) {
      await client.set(`k${i}`, value);
      // Read on every round: the most recently used key is the last evicted.
      expect(await client.get('kept')).toBe(value);
    }
    expect(await client.get('first')).toBeNull();
    expect(await client.get('k99')).toBe(value);
    const info = await client.serverInfo();
    expect(info.evictions).toBeGreaterThan(0);
    expect(info.keys).toBeLessThan(40);
    expect(info.keys + info.evictions).toBe(102);
  });
});

describe('Redis semantics without a server', () => {
  test('health, ping and serverInfo', async () => {
    const client = await open('memory://');
    const health = await client.health();
    expect(health.backend).toBe('memory');
    expect(health.status).toBe('healthy');
    expect(typeof (await client.ping())).toBe('number');
    await client.set('a', 1);
    await client.get('a');
    await client.get('missing');
    const info = await client.serverInfo();
    expect(info).toMatchObject({ keys: 1, hits: 1, misses: 1, evictions: 0 });
    expect(info.usedMemory).toMatch(/^\d+(\.\d+)?[BKMGTP]$/);
  });

  test('TTLs expire keys', async () => {
    const client = await open('memory://');
    await client.set('short', 'v', { ttl: '100ms' });
    expect(await client.ttl('short')).toBe(0);
    await waitFor(async () => (await client.get('short')) === null, 5000, 20, 'the key to expire');
    expect(await client.ttl('short')).toBe(-2);
    await client.set('long', 'v', { ttl: 100 });
    expect(await client.ttl('long')).toBe(100);
  });

  test('counters, transactions and batches', async () => {
    const client = await open('memory://');
    expect(await client.incr('n', 2, { ttl: 60 })).toBe(2);
    expect(await client.incr('n', 3, { ttl: 1 })).toBe(5);
    expect(await client.ttl('n')).toBe(60);
    expect(await client.decr('n')).toBe(4);
    await client.mset([{ key: 'a', value: { x: 1 } }, { key: 'b', value: 'two', ttl: 30 }]);
    expect(await client.mget(['a', 'b', 'c'])).toEqual([{ x: 1 }, 'two', null]);
    expect(await client.getdel('a')).toEqual({ x: 1 });
    expect(await client.exists('a')).toBe(false);
  });

  test('cache-aside, pattern and tag invalidation', async () => {
    const client = await open('memory://');
    let loads = 0;
    const loader = () => {
      loads++;
      return { menu: ['soup'] };
    };
    const results = await Promise.all([1, 2, 3].map(() => client.cache.getOrSet('menu:full', loader, { tags: ['menu'] })));
    expect(results).toEqual([{ menu: ['soup'] }, { menu: ['soup'] }, { menu: ['soup'] }]);
    expect(loads).toBe(1);
    await client.cache.set('menu:side', 'bread', { tags: ['menu'] });
    await client.cache.set('user:1', 'ann', { tags: ['users'] });
    expect(await client.cache.invalidate('menu:*')).toBe(2);
    expect(await client.cache.get('menu:full')).toBeNull();
    expect(await client.cache.invalidateTags(['users'])).toBe(1);
    expect(await client.get('user:1')).toBeNull();
  });

  test('errors: WRONGTYPE and an unknown command are Redis errors, with the texts Redis sends', async () => {
    const client = await open('memory://', '');
    await client.set('s', 'text');
    const wrong = await expectRejectsWith(() => client.command(['LPUSH', 's', 'x']), 'ERR_REDIS');
    expect(wrong.message).toMatch(/^WRONGTYPE/);
    await expectRejectsWith(() => client.incr('s'), 'ERR_REDIS');
    const unknown = await expectRejectsWith(() => client.command(['NO-SUCH-COMMAND']), 'ERR_REDIS');
    expect(unknown.message).toContain('NO-SUCH-COMMAND');
    expect(unknown.message).toMatch(/^ERR unknown command/);
  });

  test('lists and hashes through command()', async () => {
    const client = await open('memory://', '');
    expect(await client.command(['RPUSH', 'l', 'a', 'b', 'c'])).toBe(3);
    expect(await client.command(['LMOVE', 'l', 'm', 'LEFT', 'RIGHT'])).toBe('a');
    expect(await client.command(['LRANGE', 'l', 0, -1])).toEqual(['b', 'c']);
    expect(await client.command(['HSET', 'h', 'f', 'v', 'n', 2])).toBe(2);
    expect(await client.command(['HINCRBY', 'h', 'n', 5])).toBe(7);
    expect(await client.command(['HGETALL', 'h'])).toEqual(['f', 'v', 'n', '7']);
  });
});
