/**
 * Clients in worker threads: a worker ends cleanly whether its client was closed, left open, or
 * the worker called process.exit() — the event-loop reader's handle (src/event_loop.rs) is closed
 * with the worker's env, and the connections go with the client.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import { testUrl } from './helpers';

function runWorker(mode: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(__dirname, 'worker-thread.js'), mode, testUrl()],
      { timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code as number | null) ?? null : 0, out: stdout + stderr }),
    );
  });
}

test.each(['close', 'open', 'exit'])('a worker whose client is %s ends cleanly', async (mode) => {
  const { code, out } = await runWorker(mode);
  expect(out).toContain('worker read v');
  expect(out).toContain('worker exit 0');
  expect(out).not.toContain('open handles');
  expect(code).toBe(0);
});
