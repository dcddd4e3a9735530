/** Another Node process of the app, with a client of its own (`coherence-peer.js`). */
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import * as readline from 'readline';
import type { ClientOptions } from '../index';

const WAIT_MS = 15_000;

export interface Peer {
  call(op: 'getOrSet', key: string, value: unknown, opts?: object): Promise<unknown>;
  call(op: 'get' | 'peek', key: string): Promise<unknown>;
  call(op: 'set' | 'cacheSet', key: string, value: unknown, opts?: object): Promise<unknown>;
  call(op: 'del' | 'getdel', key: string): Promise<unknown>;
  call(op: 'invalidate', pattern: string): Promise<unknown>;
  call(op: 'invalidateTags', tags: string[]): Promise<unknown>;
  close(): Promise<void>;
}

export function spawnPeer(options: ClientOptions): Promise<Peer> {
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'coherence-peer.js'), JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let ready: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line);
    if (msg.ready) return ready();
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (msg.error) w?.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
    else w?.resolve(msg.undefined ? undefined : msg.result);
  });
  const call = (op: string, ...args: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      child.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    });
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
      await Promise.race([call('close'), exited]);
      child.stdin!.end();
      await exited;
      clearTimeout(timer);
    }
  };
  return Promise.race([
    started.then(() => ({ call, close }) as Peer),
    exited.then(() => {
      throw new Error(`the peer process ended before it was ready:\n${stderr}`);
    }),
  ]);
}

