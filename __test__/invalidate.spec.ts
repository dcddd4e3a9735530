/** Pattern invalidation: SCAN to the end, count, L1 eviction, keyPrefix, glob classes. On every backend. */
import { createClient } from '../index';
import type { Client } from '../index';
import { backends, globEscape, inspector, l1Tier, relaxed, uniquePrefix } from './helpers';
import type { Inspector } from './helpers';

describe.each(backends)('$name', (backend) => {
  const { url } = backend;
  const clients: Client[] = [];
  let prefix: string;
  let inspect: Inspector;

  async function open(keyPrefix = prefix): Promise<Client> {
    const c = await createClient({ url, keyPrefix, ...relaxed, local: l1Tier(backend) });
    clients.push(c);
    return c;
  }

  const keysUnder = async (p: string, pattern = '*') => (await inspect.scanKeys(globEscape(p) + pattern)).sort();

  beforeAll(async () => {
    inspect = await inspector(backend);
  });

  beforeEach(() => {
    prefix = uniquePrefix('invalidate');
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await inspect.close();
  });

  test('invalidate("p:*") deletes 20,000 keys written with mset and returns the count', async () => {
    const c = await open();
    const N = 20_000;
    const chunks: Promise<void>[] = [];
    for (let start = 0; start < N; start += 1000) {
      chunks.push(
        c.mset(Array.from({ length: 1000 }, (_, i) => ({ key: `p:${start + i}`, value: { i: start + i } }))),
      );
    }
    await Promise.all(chunks);
    const survivors = ['q:1', 'q:2', 'xp:1', 'p', 'P:1', 'pp:1'];
    await c.mset(survivors.map((k) => ({ key: k, value: k })));
    expect((await inspect.scanKeys(globEscape(prefix) + 'p:*')).length).toBe(N);

    expect(await c.cache.invalidate('p:*')).toBe(N);

    expect(await inspect.scanKeys(globEscape(prefix) + 'p:*')).toEqual([]);
    expect(await keysUnder(prefix)).toEqual(survivors.map((k) => prefix + k).sort());
    expect(await c.get('q:1')).toBe('q:1');
  });

  test('invalidate over keys written with a pipeline of concurrent sets', async () => {
    const c = await open();
    await Promise.all(Array.from({ length: 2000 }, (_, i) => c.set(`p:${i}`, i)));
    await c.set('keep', 1);
    expect(await c.cache.invalidate('p:*')).toBe(2000);
    expect(await keysUnder(prefix)).toEqual([prefix + 'keep']);
  });

  test('a pattern that matches nothing returns 0', async () => {
    const c = await open();
    await c.set('a', 1);
    expect(await c.cache.invalidate('nothing:*')).toBe(0);
    expect(await c.exists('a')).toBe(true);
  });

  test('matching L1 entries are evicted, others stay', async () => {
    const c = await open();
    await c.cache.set('p:1', 1);
    await c.cache.set('p:2', 2);
    await c.cache.set('q:1', 3);
    expect(c.cache.peek('p:1')).toBe(1);
    expect(await c.cache.invalidate('p:*')).toBe(2);
    expect(c.cache.peek('p:1')).toBeUndefined();
    expect(c.cache.peek('p:2')).toBeUndefined();
    expect(c.cache.peek('q:1')).toBe(3);
    expect(await c.cache.get('p:1')).toBeNull();
  });

  test('an L1 entry whose Redis key is already gone is evicted too', async () => {
    const c = await open();
    await c.cache.set('p:1', 1);
    await inspect.cli('DEL', prefix + 'p:1');
    await c.cache.invalidate('p:*');
    expect(c.cache.peek('p:1')).toBeUndefined();
  });

  test('the keyPrefix is applied: another prefix with the same suffix survives', async () => {
    const otherPrefix = uniquePrefix('invalidate-other');
    const mine = await open();
    const theirs = await open(otherPrefix);
    await mine.set('p:1', 'mine');
    await theirs.set('p:1', 'theirs');
    await theirs.cache.set('p:2', 'theirs-cached');

    expect(await mine.cache.invalidate('p:*')).toBe(1);
    expect(await inspect.cli('EXISTS', prefix + 'p:1')).toBe('0');
    expect(await inspect.cli('GET', otherPrefix + 'p:1')).toBe('"theirs"');
    expect(await theirs.get('p:1')).toBe('theirs');
    expect(theirs.cache.peek('p:2')).toBe('theirs-cached');
  });

  test('a keyPrefix holding glob characters matches only itself', async () => {
    const base = uniquePrefix('invalidate-glob');
    const globby = await open(`${base}a*b:`);
    const lookalike = await open(`${base}aXb:`);
    await globby.set('p:1', 1);
    await lookalike.set('p:1', 2);
    expect(await globby.cache.invalidate('p:*')).toBe(1);
    expect(await inspect.cli('GET', `${base}aXb:p:1`)).toBe('2');
    expect(await inspect.cli('EXISTS', `${base}a*b:p:1`)).toBe('0');
  });

  test('glob classes: ? and [ab]', async () => {
    const c = await open();
    for (const k of ['g:a', 'g:b', 'g:c', 'g:ab', 'g:']) await c.cache.set(k, k);

    expect(await c.cache.invalidate('g:[ab]')).toBe(2);
    expect(await c.exists('g:a')).toBe(false);
    expect(await c.exists('g:b')).toBe(false);
    expect(c.cache.peek('g:a')).toBeUndefined();
    expect(c.cache.peek('g:c')).toBe('g:c');

    expect(await c.cache.invalidate('g:?')).toBe(1);
    expect(await c.exists('g:c')).toBe(false);
    expect(c.cache.peek('g:c')).toBeUndefined();
    expect(await c.exists('g:ab')).toBe(true);
    expect(await c.exists('g:')).toBe(true);
    expect(c.cache.peek('g:ab')).toBe('g:ab');
  });

  test('ranges and negated classes follow Redis glob rules', async () => {
    const c = await open();
    for (const k of ['r:1', 'r:5', 'r:9', 'r:x']) await c.cache.set(k, k);
    expect(await c.cache.invalidate('r:[1-5]')).toBe(2);
    expect(await c.cache.invalidate('r:[^x]')).toBe(1);
    expect(await c.exists('r:x')).toBe(true);
    expect(c.cache.peek('r:x')).toBe('r:x');
  });

  test('an escaped glob character is literal', async () => {
    const c = await open();
    await c.cache.set('h:*', 'star');
    await c.cache.set('h:x', 'x');
    expect(await c.cache.invalidate('h:\\*')).toBe(1);
    expect(await c.exists('h:*')).toBe(false);
    expect(c.cache.peek('h:*')).toBeUndefined();
    expect(await c.get('h:x')).toBe('x');
    expect(c.cache.peek('h:x')).toBe('x');
  });
});
