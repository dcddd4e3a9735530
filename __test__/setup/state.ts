/** Where globalSetup records the redis-server it started, for globalTeardown (and stale runs). */
import * as fs from 'fs';
import * as path from 'path';
import { isAlive, removeServerDir, stopRedisByPid } from './redis-server';

export interface ServerState {
  /** pid of the redis-server */
  pid: number;
  port: number;
  url: string;
  dir: string;
  /** pid of the Jest process that started it */
  owner: number;
  /** The nodes of the test cluster, when one was started. */
  cluster?: { pid: number; port: number; dir: string }[];
}

export const STATE_DIR = path.resolve(__dirname, '..', '..', '.jest-redis');

export function statePath(owner: number = process.pid): string {
  return path.join(STATE_DIR, `server-${owner}.json`);
}

export function writeState(state: ServerState): string {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const file = statePath(state.owner);
  fs.writeFileSync(file, JSON.stringify(state, null, 2) + '\n');
  return file;
}

export function readState(file: string): ServerState | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ServerState;
  } catch {
    return null;
  }
}

export async function stopFromState(file: string): Promise<void> {
  const state = readState(file);
  if (state !== null) {
    for (const s of [state, ...(state.cluster ?? [])]) {
      await stopRedisByPid(s.pid, s.port);
      removeServerDir(s.dir);
    }
  }
  fs.rmSync(file, { force: true });
}

/** Servers left behind by a Jest run that was killed before its teardown. */
export async function reapStale(): Promise<void> {
  let names: string[];
  try {
    names = fs.readdirSync(STATE_DIR);
  } catch {
    return;
  }
  for (const name of names) {
    if (!/^server-\d+\.json$/.test(name)) continue;
    const file = path.join(STATE_DIR, name);
    const state = readState(file);
    if (state !== null && state.owner !== process.pid && isAlive(state.owner)) continue; // a live run
    await stopFromState(file).catch(() => undefined);
  }
}
