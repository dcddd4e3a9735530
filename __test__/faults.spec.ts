/**
 * A bad network path rather than a dead server: the client talks to the run's Redis through a
 * fault proxy (helpers/fault-proxy.ts) that delays, blackholes, resets or splits its bytes.
 *
 * - A reply that arrives after its request timed out is never handed to another request.
 * - A blackhole makes calls fail within their timeout, `health()` stops saying healthy, the
 *   client never reports `ready` on a connection that does not answer, and it recovers once the
 *   path heals.
 * - A reset fails what is in flight at once (the queue's blocking connection included) and the
 *   L1 is flushed; the invalidation connection comes back with the rest.
 * - Writes split into 1-byte chunks change nothing.
 * - A server that answers more than it was asked fails the waiting calls; none is left hanging.
 *
 * Single server only: Cluster nodes advertise their own addresses (CLUSTER SLOTS), so a proxy in
 * front of one seed node would not stand between the client and the nodes it then uses.
 */
import { createClient } from '../index';
import type { Client, ClientOptions, ErrorCode, FerroError } from '../index';
import { cleanupPrefixes, expectRejectsWith, redisCli, relaxed, testUrl, uniquePrefix, waitFor } from './helpers';
import { fakeServer, startFaultProxy } from './helpers/fault-proxy';
import type { FaultProxy } from './helpers/fault-proxy';

/** What a call may fail with on a faulty path: never another request's reply. */
const FAULT_CODES: ErrorCode[] = ['ERR_TIMEOUT', 'ERR_UNAVAILABLE'];
/** Timeouts small enough for faults to show within a test. */
const TIGHT = { commandTimeoutMs: 300, connectTimeoutMs: 1000 } as const;

let proxy: FaultProxy;
const clients: Client[] = [];

beforeEach(async () => {
  proxy = await startFaultProxy();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await proxy.close();
});

afterAll(async () => {
  await cleanupPrefixes();
});

/**
 * A client through the proxy (no L1 unless asked: reads must reach the server). Not failFast:
 * a loaded machine may miss a tight timeout on the first connection; the tests wait for reads.
 */
async function open(opts: ClientOptions): Promise<Client> {
  const c = await createClient({ url: proxy.url, local: false, ...opts });
  clients.push(c);
  return c;
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

const outcome = (p: Promise<unknown>): Promise<Outcome> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, code: (err as FerroError).code }),
  );

/** Counts of a client's connection events. */
function record(c: Client): { ready: number; error: number; reconnecting: number } {
  const seen = { ready: 0, error: 0, reconnecting: 0 };
  c.on('ready', () => seen.ready++);
  c.on('error', () => seen.error++);
  c.on('reconnecting', () => seen.reconnecting++);
  return seen;
}

/** A client through the proxy, its events counted, that has written `k` = 'before'. */
async function withK(name: string, opts: ClientOptions) {
  const c = await open({ keyPrefix: uniquePrefix(name), ...opts });
  const seen = record(c);
  // Retried: a loaded machine may miss a tight timeout.
  await waitFor(() => c.set('k', 'before'), 10_000, 50, 'the first write');
  return { c, seen };
}

/** Clears the fault and waits for the client's next 'ready'. */
async function heal(seen: { ready: number }): Promise<void> {
  const readyBefore = seen.ready;
  proxy.pass();
  await waitFor(() => seen.ready > readyBefore, 30_000, 50, "'ready' once the path heals");
}

/** Waits until `c` reads `key` as `expected` again (the path healed, the client reconnected). */
async function readsAgain(c: Client, key: string, expected: unknown): Promise<void> {
  const value = await waitFor(async () => ({ value: await c.get(key) }), 20_000, 50, `a successful read of ${key}`);
  expect(value.value).toEqual(expected);
}

test('late replies after a timeout never reach another request', async () => {
  const prefix = uniquePrefix('faults-late');
  const N = 40;
  const value = (i: number) => `v${i}`;
  // Written around the proxy: keys k0..k(2N-1), each with its own value.
  const direct = await createClient({ url: testUrl(), keyPrefix: prefix, local: false, ...relaxed });
  clients.push(direct);
  await Promise.all(Array.from({ length: 2 * N }, (_, i) => direct.set(`k${i}`, value(i))));
  const c = await open({ keyPrefix: prefix, ...TIGHT });

  /** GETs of k(from)..k(from+N-1) at once, each with its key's index. */
  const wave = (from: number) => Promise.all(Array.from({ length: N }, (_, j) => outcome(c.get(`k${from + j}`)).then((o) => [from + j, o] as const)));
  const check = (results: readonly (readonly [number, Outcome])[]) => {
    for (const [i, o] of results) {
      if (o.ok) expect(o.value).toBe(value(i));
      else expect(FAULT_CODES).toContain(o.code);
    }
  };

  // A round: the first wave's requests and replies are each held 200 ms, so they time out
  // (300 ms) and their replies arrive at about 400 ms. A second wave, of other keys, is sent
  // once the first has failed, each way held 60 ms: its requests wait on the same connection
  // while the late replies arrive, and its own replies come after them, in time. A round proves
  // the point when both happened without a reconnection in between; the heartbeat may fall in
  // the delay and drop the connection, so rounds repeat until two did.
  let proved = 0;
  for (let round = 0; round < 15 && proved < 2; round++) {
    await readsAgain(c, 'k0', value(0));
    const connections = proxy.accepted;
    proxy.delay(200);
    const early = await wave(0);
    proxy.delay(60);
    const late = await wave(N);
    proxy.pass();
    check(early);
    check(late);
    const timedOut = early.some(([, o]) => !o.ok && o.code === 'ERR_TIMEOUT');
    const served = late.some(([, o]) => o.ok);
    if (timedOut && served && proxy.accepted === connections) proved++;
  }
  expect(proved).toBeGreaterThan(0);

  // The fault cleared: every read succeeds again, with its own value.
  await waitFor(
    async () => {
      const all = await wave(0);
      check(all);
      return all.every(([, o]) => o.ok);
    },
    20_000,
    50,
    'a whole wave of successful reads',
  );
}, 120_000);

test('a blackhole: calls fail within their timeout, health stops saying healthy, the client recovers', async () => {
  const { c, seen } = await withK('faults-blackhole', TIGHT);
  await waitFor(async () => (await c.health()).status === 'healthy', 10_000, 50, 'a healthy report before the fault');

  proxy.blackhole();
  // Bounded by the command timeout: the connection is open, nothing ever comes back.
  await expectRejectsWith(() => c.get('k'), FAULT_CODES);
  await expectRejectsWith(() => c.set('k', 'during'), FAULT_CODES);
  expect((await c.health()).status).toBe('unhealthy');

  // The heartbeat drops the silent connection; new ones are accepted by the blackhole but never
  // answer the connection check, so none of them is reported ready.
  const readyBefore = seen.ready;
  const reconnecting = seen.reconnecting;
  await waitFor(() => seen.reconnecting >= reconnecting + 3, 30_000, 50, 'reconnection attempts through the blackhole');
  expect(seen.ready).toBe(readyBefore);
  expect(seen.error).toBeGreaterThan(0);
  expect(proxy.accepted).toBeGreaterThan(1);
  await expectRejectsWith(() => c.get('k'), FAULT_CODES);

  await heal(seen);
  // The write sent into the blackhole never reached Redis.
  await readsAgain(c, 'k', 'before');
  await waitFor(async () => (await c.health()).status === 'healthy', 10_000, 50, 'a healthy report after the fault');
}, 60_000);

test("a reset fails what is in flight at once, the queue's blocking pop included, and the client recovers", async () => {
  // Long timeouts: an ERR_UNAVAILABLE here is the reset noticed, not a timeout.
  const { c, seen } = await withK('faults-reset', relaxed);
  const queue = c.queue('jobs');
  const popping = outcome(queue.pop({ timeoutMs: 30_000 }));
  // The pop waits on a connection of its own: wait until the server holds it blocked.
  await waitFor(
    async () => {
      const ports = proxy.upstreamPorts();
      const list = await redisCli(testUrl(), 'CLIENT', 'LIST');
      return list.split('\n').some((line) => line.includes('cmd=blmove') && ports.some((p) => line.includes(`addr=127.0.0.1:${p} `)));
    },
    10_000,
    50,
    'the pop to block on the server',
  );

  proxy.reset();
  expect(await popping).toEqual({ ok: false, code: 'ERR_UNAVAILABLE' });
  await expectRejectsWith(() => c.get('k'), 'ERR_UNAVAILABLE');
  await waitFor(() => seen.reconnecting > 0, 10_000, 50, "'reconnecting' after the reset");

  await heal(seen);
  await readsAgain(c, 'k', 'before');
  const id = await queue.push({ n: 1 });
  expect(await queue.pop({ timeoutMs: 5000 })).toEqual({ id, payload: { n: 1 } });
}, 60_000);

test('a reset of the invalidation connection flushes the L1, and tracking resumes on the new one', async () => {
  const prefix = uniquePrefix('faults-tracking');
  const c = await open({ keyPrefix: prefix, ...relaxed, local: { ttl: 300 } });
  const seen = record(c);
  await c.cache.set('a', 'cached');
  expect(c.cache.peek('a')).toBe('cached');

  proxy.reset();
  // Invalidations may have been missed while the connection was down.
  await waitFor(() => c.cache.peek('a') === undefined, 10_000, 20, 'the L1 flush after the reset');

  await heal(seen);
  await c.cache.set('b', 'mine');
  expect(c.cache.peek('b')).toBe('mine');
  // Another client's write reaches this L1 through the new invalidation connection.
  await redisCli(testUrl(), 'SET', `${prefix}b`, '"theirs"');
  await waitFor(() => c.cache.peek('b') === undefined, 10_000, 20, 'the invalidation of b');
  expect(await c.cache.get('b')).toBe('theirs');
}, 60_000);

test('writes split into 1-byte chunks change nothing', async () => {
  const prefix = uniquePrefix('faults-split');
  const c = await open({ keyPrefix: prefix, ...relaxed });
  proxy.split();
  // A value that holds RESP-looking bytes and multi-byte characters cut anywhere.
  const big = `${'x'.repeat(3000)}\r\n$3\r\nfoo\r\n*2\r\n${'é'.repeat(200)}`;
  await c.set('big', big);
  expect(await c.get('big')).toBe(big);
  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
  await Promise.all(keys.map((k, i) => c.set(k, { i })));
  expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((_, i) => ({ i })));
  expect(await c.mget([...keys, 'missing'])).toEqual([...keys.map((_, i) => ({ i })), null]);
  expect(await c.incr('n', 5)).toBe(5);
  await expectRejectsWith(() => c.command(['INCR', `${prefix}big`]), 'ERR_REDIS');
  expect(await c.command(['PING'])).toBe('PONG');
  // One connection throughout: nothing was misread, so nothing was dropped.
  expect(proxy.accepted).toBe(1);
}, 60_000);

test('a reply nobody asked for fails the waiting calls; none is left hanging', async () => {
  // Two replies to every command, in one write: the second has no request to go to.
  const liar = await fakeServer((socket) => socket.on('data', () => socket.write('+PONG\r\n+PONG\r\n')));
  try {
    const c = await createClient({ url: liar.url, local: false, failFast: true, ...relaxed });
    clients.push(c);
    // The connection is dropped at the surplus reply ('PONG' only if it came in a later read).
    const o = await outcome(c.command(['PING']));
    expect([{ ok: true, value: 'PONG' }, { ok: false, code: 'ERR_UNAVAILABLE' }]).toContainEqual(o);
  } finally {
    await liar.close();
  }
});
