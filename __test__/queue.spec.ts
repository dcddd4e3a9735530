/**
 * The job queue: BRPOP-compatible jobs, reliable pop into a processing list, ack from any
 * process, statuses a worker in another language can write, and a blocking pop that neither
 * delays other commands nor holds up close(). On every backend, except a BRPOP by redis-cli
 * (another language's worker, Redis only).
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { createClient } from '../index';
import type { Client, ClientOptions } from '../index';
import { backends, cleanupPrefixes, clusterNodeUrls, expectRejectsWith, globEscape, inspector, redisCli, testUrl, uniquePrefix } from './helpers';
import type { Inspector } from './helpers';

const clients: Client[] = [];
let prefix: string;

async function openOn(url: string, options: Omit<ClientOptions, 'url' | 'keyPrefix'> = {}): Promise<Client> {
  const c = await createClient({ url, keyPrefix: prefix, ...options });
  clients.push(c);
  return c;
}

const listKey = (name: string) => `${prefix}queue:${name}`;
const processingKey = (name: string) => `${prefix}{${prefix}queue:${name}}:processing`;

beforeEach(() => {
  prefix = uniquePrefix('queue');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe.each(backends)('$name', (backend) => {
  const { url } = backend;
  let inspect: Inspector;
  const open = (options: Omit<ClientOptions, 'url' | 'keyPrefix'> = {}) => openOn(url, options);
  const processing = async (name: string) => (await inspect.cli('LRANGE', processingKey(name), '0', '-1')).split('\n').filter((l) => l !== '');

  beforeAll(async () => {
    inspect = await inspector(backend);
  });

  afterAll(async () => {
    await inspect.close();
  });

  test('pop takes the oldest job first', async () => {
    const q = (await open()).queue('fifo');
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await q.push({ n: i }));
    for (let i = 0; i < 5; i++) expect(await q.pop()).toEqual({ id: ids[i], payload: { n: i } });
    expect(await q.pop({ timeoutMs: 0 })).toBeNull();
  });

  test('a job stays in the processing list until acked, from any client', async () => {
    const [c1, c2] = [await open(), await open()];
    const q = c1.queue('work');
    const id = await q.push('job');
    const job = await q.pop();
    expect(job).toEqual({ id, payload: 'job' });
    expect(await inspect.cli('LLEN', listKey('work'))).toBe('0');
    const held = await processing('work');
    expect(held).toHaveLength(1);
    expect(JSON.parse(held[0]).id).toBe(id);
    await c2.queue('work').ack(id);
    expect(await processing('work')).toEqual([]);
  });

  test('ack removes only its own job, and an unknown id is a no-op', async () => {
    const q = (await open()).queue('work');
    const a = await q.push('a');
    const b = await q.push('b');
    await q.pop();
    await q.pop();
    await q.ack('no-such-job');
    expect(await processing('work')).toHaveLength(2);
    await q.ack(a);
    const left = await processing('work');
    expect(left.map((j) => JSON.parse(j).id)).toEqual([b]);
  });

  test('an item another producer pushed pops with its raw text as id, and acks', async () => {
    const q = (await open()).queue('mixed');
    await inspect.cli('LPUSH', listKey('mixed'), '{"ticket":7}');
    const job = await q.pop();
    expect(job).toEqual({ id: '{"ticket":7}', payload: { ticket: 7 } });
    await q.ack(job!.id);
    expect(await processing('mixed')).toEqual([]);
  });

  // Redis and Cluster (every node: ACLs are per node); memory:// has no users.
  const nodes = { redis: [url], cluster: backend.name === 'cluster' ? clusterNodeUrls(url) : [], memory: [] }[backend.name];
  if (nodes.length > 0) {
    test('every key of a queue is under the keyPrefix: an ACL user limited to ~<keyPrefix>* pushes, pops and acks', async () => {
      const user = prefix.replace(/[^A-Za-z0-9]/g, '-');
      const password = 'queue-acl-secret';
      await Promise.all(nodes.map((n) => redisCli(n, 'ACL', 'SETUSER', user, 'on', `>${password}`, 'resetkeys', `~${globEscape(prefix)}*`, '&*', '+@all')));
      try {
        const c = await createClient({ url: url.replace(/^(redis(\+cluster)?:\/\/)/, `$1${user}:${password}@`), keyPrefix: prefix, local: false });
        clients.push(c);
        const q = c.queue('acl');
        const [a, b] = [await q.push('a'), await q.push('b')];
        expect(await q.pop({ timeoutMs: 0 })).toEqual({ id: a, payload: 'a' });
        expect(await q.pop()).toEqual({ id: b, payload: 'b' });
        await q.ack(a);
        await q.ack(b);
        expect(await processing('acl')).toEqual([]);
        // Outside the prefix the same user is refused: the ACL is in force.
        await expectRejectsWith(() => c.command(['GET', 'outside-the-prefix']), 'ERR_REDIS');
      } finally {
        await Promise.all(nodes.map((n) => redisCli(n, 'ACL', 'DELUSER', user)));
      }
    });
  }

  test('pop resolves null when nothing comes within timeoutMs', async () => {
    const q = (await open()).queue('empty');
    expect(await q.pop({ timeoutMs: 200 })).toBeNull();
  });

  test('a waiting pop gets a job pushed meanwhile', async () => {
    const c = await open();
    const q = c.queue('late');
    const popped = q.pop({ timeoutMs: 5000 });
    await c.get('anything'); // the pop is waiting on its own connection by now
    const id = await c.queue('late').push({ late: true });
    expect(await popped).toEqual({ id, payload: { late: true } });
  });

  test('a blocking pop does not delay other commands of the same client', async () => {
    const c = await open();
    const order: string[] = [];
    const popped = c
      .queue('idle')
      .pop({ timeoutMs: 2000 })
      .then((job) => {
        order.push('pop');
        return job;
      });
    const gets = Array.from({ length: 500 }, (_, i) => c.get(`k${i}`).then(() => order.push('get')));
    await Promise.all([popped, ...gets]);
    expect(await popped).toBeNull();
    expect(order).toHaveLength(501);
    expect(order.indexOf('pop')).toBe(500);
  });

  test('status round trip, with its TTL, at a key a worker can write', async () => {
    const q = (await open()).queue('tickets');
    const id = await q.push({ orderId: 1 });
    expect(await q.status(id)).toBeNull();
    await q.setStatus(id, { state: 'queued' });
    expect(await q.status(id)).toEqual({ state: 'queued' });
    const key = `${listKey('tickets')}:status:${id}`;
    const ttl = Number(await inspect.cli('TTL', key));
    expect(ttl).toBeGreaterThan(3590);
    expect(ttl).toBeLessThanOrEqual(3600);
    await q.setStatus(id, 'printing', { ttl: '10m' });
    expect(Number(await inspect.cli('TTL', key))).toBeLessThanOrEqual(600);
    // What a Python worker would write: SET queue:tickets:status:<id> <json> EX 3600
    await inspect.cli('SET', key, '{"state":"done","url":"/t/1.pdf"}', 'EX', '3600');
    expect(await q.status(id)).toEqual({ state: 'done', url: '/t/1.pdf' });
  });

  describe('close() while a pop is waiting', () => {
    test('the pop rejects with ERR_CLOSED, and close() resolves (well before the 60 s wait)', async () => {
      const c = await createClient({ url, keyPrefix: prefix });
      const popped = c.queue('closing').pop({ timeoutMs: 60000 });
      await c.get('x'); // the pop is on its way
      await Promise.all([c.close(), expectRejectsWith(() => popped, 'ERR_CLOSED')]);
    });

    test('the process exits by itself', async () => {
      const entry = path.resolve(__dirname, '..', 'index.js');
      const script = `
        const { createClient } = require(${JSON.stringify(entry)});
        (async () => {
          const client = await createClient({ url: process.env.FERRO_TEST_URL, keyPrefix: ${JSON.stringify(prefix)} });
          const popped = client.queue('closing').pop({ timeoutMs: 60000 }).catch((e) => e.code);
          await client.get('x');
          await client.close();
          console.log('pop=' + (await popped));
        })().catch((err) => { console.error(err); process.exitCode = 1; });
      `;
      const result = await new Promise<{ code: number | null; out: string; killed: boolean }>((resolve) => {
        const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, FERRO_TEST_URL: url } });
        let out = '';
        let killed = false;
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        // Only catches a process that never exits (the pop alone would hold it for 60 s).
        const timer = setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
        }, 15000);
        child.once('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out, killed });
        });
      });
      expect(result).toEqual({ code: 0, out: 'pop=ERR_CLOSED\n', killed: false });
    });
  });

  describe('bad input: ERR_INVALID_ARGUMENT, nothing written', () => {
    test('names', async () => {
      const c = await open();
      for (const name of ['', 'a{b}', 'x}', 42]) {
        expect(() => c.queue(name as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      }
    });

    test('payloads', async () => {
      const q = (await open()).queue('bad');
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const payload of [undefined, circular, 10n, Buffer.from('x'), () => 1]) {
        await expectRejectsWith(() => q.push(payload), 'ERR_INVALID_ARGUMENT');
      }
      expect(await inspect.cli('EXISTS', listKey('bad'))).toBe('0');
    });

    test('timeouts', async () => {
      const q = (await open()).queue('bad');
      for (const timeoutMs of [-1, 60001, NaN, Infinity, '100']) {
        await expectRejectsWith(() => q.pop({ timeoutMs: timeoutMs as never }), 'ERR_INVALID_ARGUMENT');
      }
    });

    test('ids, statuses and their ttl', async () => {
      const q = (await open()).queue('bad');
      await expectRejectsWith(() => q.ack(''), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => q.status(''), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => q.setStatus('', 'x'), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => q.setStatus('j', undefined), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => q.setStatus('j', 'x', { ttl: -5 }), 'ERR_INVALID_ARGUMENT');
      expect(await inspect.cli('EXISTS', `${listKey('bad')}:status:j`)).toBe('0');
    });
  });
});

describe('Redis only: a worker in another language', () => {
  afterAll(async () => {
    await cleanupPrefixes(testUrl());
  });

  test('a BRPOP worker receives what push wrote', async () => {
    const q = (await openOn(testUrl())).queue('tickets');
    const id = await q.push({ orderId: 42, table: 'T3' });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const [list, raw] = (await redisCli(testUrl(), 'BRPOP', listKey('tickets'), '1')).split('\n');
    expect(list).toBe(listKey('tickets'));
    const job = JSON.parse(raw);
    expect(job).toEqual({ id, payload: { orderId: 42, table: 'T3' }, enqueuedAt: expect.any(String) });
    expect(new Date(job.enqueuedAt).toISOString()).toBe(job.enqueuedAt);
  });
});
