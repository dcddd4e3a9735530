/**
 * A throwing event listener strands no call (issue #12, point 4): events are emitted from inside
 * the drain that settles a batch of calls, and an exception there used to abort it half way,
 * leaving every later call of the batch unsettled and close() hanging. Run in a child process:
 * the listener's exception must still surface as an uncaughtException there.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import * as readline from 'readline';
import { startRedis } from './helpers';
import type { RedisServer } from './helpers';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

it('a Redis restart under load with throwing listeners settles every call and close() resolves', async () => {
  const child = spawn(process.execPath, [path.join(__dirname, 'children', 'throwing-listener.js'), server.url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = readline.createInterface({ input: child.stdout });
  const next = (() => {
    const queue: string[] = [];
    const waiting: ((l: string) => void)[] = [];
    lines.on('line', (l) => (waiting.length > 0 ? waiting.shift()!(l) : queue.push(l)));
    return () => new Promise<string>((resolve) => (queue.length > 0 ? resolve(queue.shift()!) : waiting.push(resolve)));
  })();

  expect(await next()).toBe('loaded');
  await server.stop();
  expect(await next()).toBe('failing');
  await server.restart();
  const report = JSON.parse(await next());
  expect(await exited).toBe(0);
  expect(stderr).toBe('');
  expect(report).toMatchObject({ okAfterFailure: true, closed: true });
  expect(report.settled).toBe(report.issued);
  expect(report.failed).toBeGreaterThan(0);
  // 'reconnecting' and 'ready' were emitted and threw: surfaced as uncaught exceptions.
  expect(report.uncaught).toBeGreaterThanOrEqual(2);
}, 60_000);
