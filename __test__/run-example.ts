/** Runs an example the way its README does (one command, memory://) and finds the URL it prints. */
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');

export interface RunningExample {
  /** `http://localhost:<port>`, from the example's first line. */
  url: string;
  /** Everything it printed so far. */
  output(): string;
  /**
   * SIGTERM, then how it ended: `'exit <code>'`, or the signal that ended it (`'SIGTERM'` when it
   * re-raised it after cleaning up, as Nest's shutdown hooks do; `'SIGKILL'` after `graceMs`).
   */
  stop(graceMs?: number): Promise<string>;
}

/** `node <args>` from the package root, on memory:// and a free port; resolves once it prints its URL. */
export function runExample(args: string[], readyTimeoutMs = 90000): Promise<RunningExample> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code === null ? String(signal) : `exit ${code}`)),
  );
  const stop = async (graceMs = 10000): Promise<string> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(0);
      reject(new Error(`node ${args.join(' ')} printed no URL within ${readyTimeoutMs} ms:\n${out}`));
    }, readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const m = / on (http:\/\/localhost:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], output: () => out, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`node ${args.join(' ')} ended (${how}) before printing its URL:\n${out}`));
    });
  });
}
