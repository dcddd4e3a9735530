/**
 * close(): after it no handle keeps Node alive, later calls reject with ERR_CLOSED, and closing
 * twice is fine. The exit checks run in child Node processes that load the package root.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { createClient } from '../index';
import type { Client, ErrorCode } from '../index';
import { cleanupPrefixes, expectRejectsWith, freePort, relaxed, testUrl, uniquePrefix, waitFor } from './helpers';

const url = testUrl();
const PACKAGE_ENTRY = path.resolve(__dirname, '..', 'index.js');
/** A clean exit takes well under a second; this bound only catches a process that never exits. */
const EXIT_BOUND_MS = 15000;

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** true when the child did not exit by itself and had to be killed */
  killed: boolean;
}

function runChild(script: string, env: Record<string, string> = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      killed = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, EXIT_BOUND_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, killed });
    });
  });
}

function expectCleanExit(r: ChildResult): void {
  const detail = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  if (r.killed) throw new Error(`the child did not exit by itself within ${EXIT_BOUND_MS} ms and was killed\n${detail}`);
  if (r.code !== 0) throw new Error(`the child exited with code ${r.code} (signal ${r.signal})\n${detail}`);
}

afterAll(async () => {
  await cleanupPrefixes(url);
});

describe('a process exits by itself after close()', () => {
  test('after set/get/getOrSet/invalidate', async () => {
    const prefix = uniquePrefix('close-child');
    const script = `
      const { createClient } = require(${JSON.stringify(PACKAGE_ENTRY)});
      (async () => {
        const client = await createClient({ url: process.env.FERRO_TEST_URL, keyPrefix: ${JSON.stringify(prefix)}, commandTimeoutMs: 15000 });
        if ((await client.set('a', { x: 1 })) !== true) throw new Error('set did not resolve true');
        const v = await client.get('a');
        if (!v || v.x !== 1) throw new Error('get returned ' + JSON.stringify(v));
        const loaded = await client.cache.getOrSet('b', () => ({ y: 2 }), { ttl: 60 });
        if (loaded.y !== 2) throw new Error('getOrSet returned ' + JSON.stringify(loaded));
        const hit = await client.cache.getOrSet('b', () => ({ y: 3 }));
        if (hit.y !== 2) throw new Error('second getOrSet returned ' + JSON.stringify(hit));
        const n = await client.cache.invalidate('*');
        if (n !== 2) throw new Error('invalidate returned ' + n);
        await client.close();
        console.log('closed');
      })().catch((err) => { console.error(err); process.exitCode = 1; });
    `;
    const r = await runChild(script, { FERRO_TEST_URL: url });
    expectCleanExit(r);
    expect(r.stdout).toContain('closed');
  });

  test('after commands that were still in flight when close() was called', async () => {
    const prefix = uniquePrefix('close-child');
    const script = `
      const { createClient } = require(${JSON.stringify(PACKAGE_ENTRY)});
      (async () => {
        const client = await createClient({ url: process.env.FERRO_TEST_URL, keyPrefix: ${JSON.stringify(prefix)}, commandTimeoutMs: 15000 });
        const pending = Array.from({ length: 50 }, (_, i) => client.set('k' + i, i).catch((e) => e.code));
        await client.close();
        await Promise.all(pending);
        console.log('closed');
      })().catch((err) => { console.error(err); process.exitCode = 1; });
    `;
    const r = await runChild(script, { FERRO_TEST_URL: url });
    expectCleanExit(r);
    expect(r.stdout).toContain('closed');
  });

  test('against a port where nothing listens, after a failing get', async () => {
    const port = await freePort();
    const script = `
      const { createClient } = require(${JSON.stringify(PACKAGE_ENTRY)});
      (async () => {
        const client = await createClient({ url: 'redis://127.0.0.1:${port}', connectTimeoutMs: 500 });
        try {
          await client.get('a');
          throw new Error('get resolved against a closed port');
        } catch (err) {
          console.log('code=' + err.code);
        }
        await client.close();
        console.log('closed');
      })().catch((err) => { console.error(err); process.exitCode = 1; });
    `;
    const r = await runChild(script);
    expectCleanExit(r);
    expect(r.stdout).toMatch(/code=(ERR_UNAVAILABLE|ERR_TIMEOUT)/);
    expect(r.stdout).toContain('closed');
  });

  test('a client that was only created and closed', async () => {
    const script = `
      const { createClient } = require(${JSON.stringify(PACKAGE_ENTRY)});
      createClient({ url: process.env.FERRO_TEST_URL, commandTimeoutMs: 15000 })
        .then((c) => c.close())
        .then(() => console.log('closed'), (err) => { console.error(err); process.exitCode = 1; });
    `;
    const r = await runChild(script, { FERRO_TEST_URL: url });
    expectCleanExit(r);
    expect(r.stdout).toContain('closed');
  });
});

describe('after close()', () => {
  let client: Client;
  let prefix: string;

  beforeEach(async () => {
    prefix = uniquePrefix('close');
    client = await createClient({ url, keyPrefix: prefix, ...relaxed });
    await client.set('k', 1);
    await client.cache.set('c', 1);
  });

  afterEach(async () => {
    await client.close();
  });

  test('calls reject with ERR_CLOSED', async () => {
    await client.close();
    const closed: ErrorCode = 'ERR_CLOSED';
    await expectRejectsWith(() => client.get('k'), closed);
    await expectRejectsWith(() => client.getBuffer('k'), closed);
    await expectRejectsWith(() => client.set('k', 2), closed);
    await expectRejectsWith(() => client.del('k'), closed);
    await expectRejectsWith(() => client.exists('k'), closed);
    await expectRejectsWith(() => client.expire('k', 10), closed);
    await expectRejectsWith(() => client.ttl('k'), closed);
    await expectRejectsWith(() => client.incr('k'), closed);
    await expectRejectsWith(() => client.decr('k'), closed);
    await expectRejectsWith(() => client.mget(['k']), closed);
    await expectRejectsWith(() => client.mset([{ key: 'k', value: 1 }]), closed);
    await expectRejectsWith(() => client.getdel('k'), closed);
    await expectRejectsWith(() => client.command(['PING']), closed);
    await expectRejectsWith(() => client.ping(), closed);
    await expectRejectsWith(() => client.serverInfo(), closed);
    await expectRejectsWith(() => client.cache.get('c'), closed);
    await expectRejectsWith(() => client.cache.set('c', 2), closed);
    await expectRejectsWith(() => client.cache.delete('c'), closed);
    await expectRejectsWith(() => client.cache.invalidate('*'), closed);
    await expectRejectsWith(() => client.cache.invalidateTags(['t']), closed);
    const loader = jest.fn(() => 1);
    await expectRejectsWith(() => client.cache.getOrSet('c', loader), closed);
    expect(loader).not.toHaveBeenCalled();
  });

  test('a closed client wrote nothing', async () => {
    await client.close();
    await expectRejectsWith(() => client.set('k', 2), 'ERR_CLOSED');
    const other = await createClient({ url, keyPrefix: prefix, ...relaxed });
    try {
      expect(await other.get('k')).toBe(1);
    } finally {
      await other.close();
    }
  });

  test('closing twice, or concurrently, is fine', async () => {
    await expect(client.close()).resolves.toBeUndefined();
    await expect(client.close()).resolves.toBeUndefined();
    const again = await createClient({ url, keyPrefix: prefix, ...relaxed });
    await expect(Promise.all([again.close(), again.close()])).resolves.toEqual([undefined, undefined]);
  });

  test("'end' is emitted once", async () => {
    const onEnd = jest.fn();
    client.on('end', onEnd);
    await client.close();
    await waitFor(() => onEnd.mock.calls.length > 0, 5000, 20, "'end' event");
    await client.close();
    expect(onEnd).toHaveBeenCalledTimes(1);
  });

  test('commands in flight when close() is called settle', async () => {
    const pending = Array.from({ length: 20 }, (_, i) => client.set(`p${i}`, i));
    await client.close();
    const settled = await Promise.allSettled(pending);
    for (const s of settled) {
      if (s.status === 'rejected') expect((s.reason as { code?: string }).code).toBe('ERR_CLOSED');
    }
  });
});
