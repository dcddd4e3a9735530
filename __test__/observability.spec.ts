/**
 * ping, health, stats, serverInfo, metrics.
 *
 * Metric names (Prometheus text exposition, each with # HELP and # TYPE; the names the
 * implementation emitted when these tests were written):
 *   ferrocache_commands_total                   counter  == stats().commands
 *   ferrocache_errors_total                     counter  == stats().errors
 *   ferrocache_timeouts_total                   counter  == stats().timeouts
 *   ferrocache_reconnects_total                 counter  == stats().reconnects
 *   ferrocache_in_flight                        gauge    == stats().inFlight
 *   ferrocache_cache_hits_total{tier="local"}   counter  == stats().cache.localHits
 *   ferrocache_cache_hits_total{tier="remote"}  counter  == stats().cache.remoteHits
 *   ferrocache_cache_misses_total               counter  == stats().cache.misses
 *   ferrocache_cache_loads_total                counter  == stats().cache.loads
 *   ferrocache_cache_errors_total               counter  == stats().cache.errors
 *   ferrocache_local_entries                    gauge    == stats().cache.local.entries
 *   ferrocache_local_bytes                      gauge    == stats().cache.local.bytes
 *   ferrocache_local_evictions_total            counter  == stats().cache.local.evictions
 *
 * On every backend, except health() of a server that stops (Redis only).
 */
import { createClient } from '../index';
import type { Client, ClientStats, LocalTierOptions } from '../index';
import { backends, cleanupPrefixes, l1Tier, relaxed, startRedis, testUrl, uniquePrefix } from './helpers';
import type { RedisServer } from './helpers';

const clients: Client[] = [];
let prefix: string;

async function open(url: string, local?: false | LocalTierOptions): Promise<Client> {
  const c = await createClient({ url, keyPrefix: prefix, ...relaxed, ...(local === undefined ? {} : { local }) });
  clients.push(c);
  return c;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

beforeEach(() => {
  prefix = uniquePrefix('observability');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await cleanupPrefixes(testUrl());
});

/** `name{labels}` -> value, for every sample line; and the # TYPE of each family. */
function parseMetrics(text: string): { samples: Map<string, number>; types: Map<string, string>; helps: Set<string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (help) {
      helps.add(help[1]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*,?\})?) (\S+)( \d+)?$/.exec(
      line,
    );
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const value = Number(m[2]);
    if (Number.isNaN(value) && m[2] !== 'NaN') throw new Error(`bad sample value in ${JSON.stringify(line)}`);
    samples.set(m[1], value);
  }
  return { samples, types, helps };
}

describe.each(backends)('$name', (backend) => {
  const { url } = backend;

  test('ping() resolves a round trip in ms', async () => {
    const c = await open(url);
    const ms = await c.ping();
    expect(typeof ms).toBe('number');
    expect(Number.isFinite(ms)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(0);
  });

  test('health() of a reachable server', async () => {
    const c = await open(url);
    const h = await c.health();
    expect(h.status).toBe('healthy');
    expect(typeof h.backend).toBe('string');
    expect(h.backend.length).toBeGreaterThan(0);
    expect(typeof h.latencyMs).toBe('number');
    expect(h.latencyMs as number).toBeGreaterThanOrEqual(0);
    expect(h.timestamp).toMatch(ISO_8601);
    expect(Number.isNaN(Date.parse(h.timestamp))).toBe(false);
  });

  describe('stats()', () => {
    test('has every counter, synchronously', async () => {
      const c = await open(url);
      const s = c.stats();
      expect(s).not.toBeInstanceOf(Promise);
      for (const f of ['commands', 'errors', 'timeouts', 'reconnects', 'inFlight'] as const) {
        expect(typeof s[f]).toBe('number');
        expect(s[f]).toBeGreaterThanOrEqual(0);
      }
      expect(typeof s.cache).toBe('object');
    });

    test('commands increase with use and nothing is in flight at rest', async () => {
      const c = await open(url);
      const before = c.stats().commands;
      await c.set('a', 1);
      await c.get('a');
      await Promise.all([c.get('a'), c.get('b'), c.exists('a')]);
      const s = c.stats();
      expect(s.commands).toBeGreaterThanOrEqual(before + 5);
      expect(s.inFlight).toBe(0);
    });

    test('inFlight counts commands awaiting their reply', async () => {
      const c = await open(url);
      const pending = Promise.all(Array.from({ length: 10 }, (_, i) => c.get(`k${i}`)));
      // Observed at once, before any reply can have been handled on this thread.
      const during = c.stats().inFlight;
      await pending;
      expect(during).toBeGreaterThanOrEqual(0);
      expect(during).toBeLessThanOrEqual(10);
      expect(c.stats().inFlight).toBe(0);
    });
  });

  test('serverInfo() fields', async () => {
    const c = await open(url);
    await c.set('a', 1);
    const info = await c.serverInfo();
    expect(Number.isInteger(info.keys)).toBe(true);
    expect(info.keys).toBeGreaterThanOrEqual(1);
    expect(typeof info.usedMemory).toBe('string');
    expect(info.usedMemory.length).toBeGreaterThan(0);
    for (const f of ['hits', 'misses', 'evictions'] as const) {
      expect(Number.isInteger(info[f])).toBe(true);
      expect(info[f]).toBeGreaterThanOrEqual(0);
    }
  });

  describe('metrics()', () => {
    const expected: [string, string, (s: ClientStats) => number][] = [
      ['ferrocache_commands_total', 'counter', (s) => s.commands],
      ['ferrocache_errors_total', 'counter', (s) => s.errors],
      ['ferrocache_timeouts_total', 'counter', (s) => s.timeouts],
      ['ferrocache_reconnects_total', 'counter', (s) => s.reconnects],
      ['ferrocache_in_flight', 'gauge', (s) => s.inFlight],
      ['ferrocache_cache_hits_total{tier="local"}', 'counter', (s) => s.cache.localHits],
      ['ferrocache_cache_hits_total{tier="remote"}', 'counter', (s) => s.cache.remoteHits],
      ['ferrocache_cache_misses_total', 'counter', (s) => s.cache.misses],
      ['ferrocache_cache_loads_total', 'counter', (s) => s.cache.loads],
      ['ferrocache_cache_errors_total', 'counter', (s) => s.cache.errors],
      ['ferrocache_local_entries', 'gauge', (s) => s.cache.local.entries],
      ['ferrocache_local_bytes', 'gauge', (s) => s.cache.local.bytes],
      ['ferrocache_local_evictions_total', 'counter', (s) => s.cache.local.evictions],
    ];

    test('is Prometheus text with the expected families, matching stats()', async () => {
      // Counts a local hit: an L1 that keeps what this client wrote (helpers.ts l1Tier).
      const c = await open(url, l1Tier(backend));
      await c.set('a', 1);
      await c.cache.getOrSet('g', () => 1); // miss + load
      await c.cache.getOrSet('g', () => 1); // local hit
      await c.cache.get('missing'); // miss

      const text = c.metrics();
      const stats = c.stats(); // both synchronous: no I/O in between, so they agree
      expect(typeof text).toBe('string');
      expect(text.endsWith('\n')).toBe(true);
      expect(text).toContain('ferrocache_commands_total');
      expect(text).toContain('ferrocache_cache_hits_total{tier="local"}');

      const { samples, types, helps } = parseMetrics(text);
      for (const [sample, type, fromStats] of expected) {
        const family = sample.replace(/\{.*$/, '');
        expect({ family, type: types.get(family) }).toEqual({ family, type });
        expect({ family, help: helps.has(family) }).toEqual({ family, help: true });
        expect({ sample, value: samples.get(sample) }).toEqual({ sample, value: fromStats(stats) });
      }
      expect(samples.get('ferrocache_cache_hits_total{tier="local"}')).toBe(1);
      expect(samples.get('ferrocache_cache_misses_total')).toBe(2);
    });

    test('counters only grow', async () => {
      const c = await open(url);
      const first = parseMetrics(c.metrics()).samples.get('ferrocache_commands_total') ?? -1;
      await c.get('x');
      const second = parseMetrics(c.metrics()).samples.get('ferrocache_commands_total') ?? -1;
      expect(first).toBeGreaterThanOrEqual(0);
      expect(second).toBeGreaterThan(first);
    });
  });
});

describe('Redis only: health() when the server is down', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('resolves unhealthy (or degraded) with latencyMs null', async () => {
    const c = await open(server.url);
    expect((await c.health()).status).toBe('healthy');
    await server.stop();
    const h = await c.health();
    expect(['unhealthy', 'degraded']).toContain(h.status);
    expect(h.latencyMs).toBeNull();
    expect(h.timestamp).toMatch(ISO_8601);
    expect(typeof h.backend).toBe('string');
  });
});
