/**
 * The race harness of the L1 tier (issue #12): several clients — in this process and, on Redis
 * and Cluster, in a second Node process — run random interleavings of reads, getOrSet, writes,
 * deletes and invalidations over a few keys, many calls in flight at once. Once every call has
 * settled, each client's L1 must agree with the store: an entry it still holds is the value the
 * store holds. Invalidations travel asynchronously, so agreement is awaited (with a bound far
 * below the L1 ttl a stale entry would live for), never assumed at once.
 *
 * Each run is seeded; a failure prints its seed, and `L1_RACE_SEED=<seed>` replays that
 * interleaving of operations (the timing of their replies is the machine's).
 */
import { createClient } from '../index';
import type { Client } from '../index';
import { backends, relaxed, uniquePrefix, waitFor } from './helpers';
import { spawnPeer } from './peer';
import type { Peer } from './peer';

/**
 * Enough keys that the last write to each is rarely followed by another: a stale entry left by
 * an early race would be evicted by later traffic and go unseen, so agreement is checked after
 * each of several short storms rather than once after a long one.
 */
const KEYS = Array.from({ length: 24 }, (_, i) => `${i % 2 ? 'a' : 'b'}${i}`);
const TAGS = ['t1', 't2', 't3'];
const PATTERNS = ['a1*', 'b*', '*'];
/** Storms per run, batches each client issues per storm, and calls per batch (at most). */
const STORMS = 4;
const BATCHES = 6;
const MAX_IN_FLIGHT = 12;
/** Far below the L1 ttl (1 min): an entry that disagrees this long is stale for good. */
const AGREE_MS = 10_000;

/** mulberry32: small, seeded, good enough to pick operations. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A client taking part: one of this process, or the client of a peer process. */
interface Actor {
  name: string;
  run(op: string, args: unknown[]): Promise<unknown>;
  peek(key: string): Promise<unknown>;
  close(): Promise<void>;
}

function localActor(name: string, c: Client): Actor {
  const ops: Record<string, (...args: any[]) => Promise<unknown>> = {
    get: (k: string) => c.cache.get(k),
    getOrSet: (k: string, v: unknown) => c.cache.getOrSet(k, async () => v),
    set: (k: string, v: unknown) => c.set(k, v),
    del: (k: string) => c.del(k),
    getdel: (k: string) => c.getdel(k),
    cacheSet: (k: string, v: unknown, o: { tags: string[] }) => c.cache.set(k, v, o),
    invalidate: (p: string) => c.cache.invalidate(p),
    invalidateTags: (t: string[]) => c.cache.invalidateTags(t),
  };
  return {
    name,
    run: (op, args) => ops[op](...args),
    peek: async (k) => c.cache.peek(k),
    close: () => c.close(),
  };
}

function peerActor(name: string, peer: Peer): Actor {
  return {
    name,
    run: (op, args) => (peer.call as (op: string, ...a: unknown[]) => Promise<unknown>)(op, ...args),
    peek: (k) => peer.call('peek', k),
    close: () => peer.close(),
  };
}

/**
 * One random operation: its name and arguments. Half the calls of a batch go to the batch's
 * `hot` key, so a read and a write of one key are often in flight together.
 */
function pick(rand: () => number, actor: string, n: number, hot: string): [string, unknown[]] {
  const key = rand() < 0.5 ? hot : KEYS[Math.floor(rand() * KEYS.length)];
  const value = { by: actor, n };
  const r = rand();
  if (r < 0.25) return ['get', [key]];
  if (r < 0.45) return ['getOrSet', [key, value]];
  if (r < 0.6) return ['set', [key, value]];
  if (r < 0.7) return ['cacheSet', [key, value, { tags: [TAGS[Math.floor(rand() * TAGS.length)]] }]];
  if (r < 0.77) return ['del', [key]];
  if (r < 0.82) return ['getdel', [key]];
  if (r < 0.9) return ['invalidate', [rand() < 0.5 ? key : PATTERNS[Math.floor(rand() * PATTERNS.length)]]];
  return ['invalidateTags', [[TAGS[Math.floor(rand() * TAGS.length)]]]];
}

/** Every actor issues random batches at once; resolves when every call has settled. */
async function storm(actors: Actor[], seed: number): Promise<void> {
  await Promise.all(
    actors.map(async (actor, i) => {
      const rand = random(seed * 31 + i);
      let n = 0;
      for (let b = 0; b < BATCHES; b++) {
        const size = 1 + Math.floor(rand() * MAX_IN_FLIGHT);
        const hot = KEYS[Math.floor(rand() * KEYS.length)];
        const calls = Array.from({ length: size }, () => {
          const [op, args] = pick(rand, actor.name, n++, hot);
          return actor.run(op, args);
        });
        // A call may fail (none should here): agreement is what is checked, not each result.
        await Promise.allSettled(calls);
      }
    }),
  );
}

/** Waits until every actor's L1 holds either nothing or the store's value for every key. */
async function expectAgreement(actors: Actor[], store: Client, seed: number): Promise<void> {
  let last = '';
  try {
    await waitFor(
      async () => {
        const truth = await Promise.all(KEYS.map((k) => store.get(k)));
        for (const actor of actors) {
          for (const [i, k] of KEYS.entries()) {
            const held = await actor.peek(k);
            if (held !== undefined && JSON.stringify(held) !== JSON.stringify(truth[i])) {
              last = `${actor.name} holds ${k}=${JSON.stringify(held)}, the store ${JSON.stringify(truth[i])}`;
              return false;
            }
          }
        }
        return true;
      },
      AGREE_MS,
      50,
      'every L1 agrees with the store',
    );
  } catch (err) {
    throw new Error(`L1 disagrees with the store after quiescence (seed ${seed}): ${last}`);
  }
}

const SEEDS = process.env.L1_RACE_SEED !== undefined ? [Number(process.env.L1_RACE_SEED)] : [1, 2, 3, 4];

describe.each(backends)('$name', (backend) => {
  const processes = backend.name === 'memory' ? 1 : 2;

  it.each(SEEDS)(`random interleavings from 3 clients in this process${processes > 1 ? ' and 1 in another' : ''} leave every L1 agreeing with the store (seed %i)`, async (seed) => {
    const prefix = uniquePrefix('l1harness');
    const options = { url: backend.url, keyPrefix: prefix, ...relaxed };
    const actors: Actor[] = [];
    const store = await createClient({ ...options, local: false });
    try {
      for (let i = 0; i < 3; i++) actors.push(localActor(`local${i}`, await createClient(options)));
      if (processes > 1) actors.push(peerActor('peer', await spawnPeer(options)));
      for (let round = 0; round < STORMS; round++) {
        await storm(actors, seed * STORMS + round);
        await expectAgreement(actors, store, seed);
      }
    } finally {
      await Promise.all(actors.map((a) => a.close()));
      await store.close();
    }
  }, 60_000);
});
