/**
 * A read racing this client's own write never leaves the old value in L1 (issue #12, point 1).
 *
 * Each case reads a key through the cache while the same client changes it: the read is sent
 * first, so its reply holds the old value and arrives after the write has evicted the L1 copy.
 * The server's invalidations never report a client's own writes (NOLOOP on Redis, the own-write
 * filter of a memory:// store), so only the write path itself can fence that read. Afterwards
 * the L1 must agree with the store, read by a client without L1.
 */
import { createClient } from '../index';
import type { Client } from '../index';
import { backends, inspector, relaxed, uniquePrefix } from './helpers';
import type { Inspector } from './helpers';

/** A write path of the client, from the state `set(k, 1)` (tagged 't' in the cache's tag set). */
interface WritePath {
  name: string;
  write(c: Client, key: string): Promise<unknown>;
}

const WRITES: WritePath[] = [
  { name: 'set', write: (c, k) => c.set(k, 2) },
  { name: 'set with ttl', write: (c, k) => c.set(k, 2, { ttl: '1m' }) },
  { name: 'del', write: (c, k) => c.del(k) },
  { name: 'del of several keys', write: (c, k) => c.del([k, k + ':other']) },
  { name: 'getdel', write: (c, k) => c.getdel(k) },
  { name: 'incr', write: (c, k) => c.incr(k) },
  { name: 'incr with ttl', write: (c, k) => c.incr(k, 5, { ttl: '1m' }) },
  { name: 'decr', write: (c, k) => c.decr(k) },
  { name: 'expire', write: (c, k) => c.expire(k, '1h') },
  { name: 'mset', write: (c, k) => c.mset([{ key: k, value: 2 }]) },
  { name: 'cache.set', write: (c, k) => c.cache.set(k, 2) },
  { name: 'cache.delete', write: (c, k) => c.cache.delete(k) },
  { name: 'cache.invalidate(key)', write: (c, k) => c.cache.invalidate(k) },
  { name: 'cache.invalidate(pattern)', write: (c, k) => c.cache.invalidate(k + '*') },
  { name: 'cache.invalidateTags', write: (c, _k) => c.cache.invalidateTags(['t']) },
];

describe.each(backends)('$name', (backend) => {
  let peek: Inspector;
  beforeAll(async () => {
    peek = await inspector(backend);
  });
  afterAll(async () => {
    await peek.close();
  });

  describe.each(WRITES)('a read racing $name', ({ write }) => {
    it('is not kept in L1 once the write is done', async () => {
      const prefix = uniquePrefix('l1race');
      // Cluster: coherence 'ttl', so the echo of this client's own write cannot mask the fence.
      const c = await createClient({ url: backend.url, keyPrefix: prefix, local: { coherence: 'ttl' }, ...relaxed });
      // Seeds and reads the store without any L1.
      const plain = await createClient({ url: backend.url, keyPrefix: prefix, local: false, ...relaxed });
      try {
        for (let round = 0; round < 10; round++) {
          const key = `k${round}`;
          await plain.cache.set(key, 1, { tags: ['t'] });
          await Promise.all([c.cache.get(key), write(c, key)]);
          const truth = await plain.get(key);
          const cached = c.cache.peek(key);
          if (cached !== undefined) expect(cached).toEqual(truth);
          expect(await c.cache.get(key)).toEqual(truth);
        }
      } finally {
        await plain.close();
        await c.close();
      }
    });
  });
});
