/**
 * Throwaway redis-server processes for the tests.
 *
 * Each server listens on a free loopback port, keeps nothing on disk (`--save ""`,
 * `--appendonly no`), runs in its own directory under os.tmpdir() and is stopped by its
 * pid, never by name: a Redis already running on this machine (127.0.0.1:6379, say) is
 * never touched.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The pid of the current process (it changes on `restart()`). */
  readonly pid: number;
  /** The server's working directory (its log is `redis.log` there). */
  readonly dir: string;
  /** SIGTERM, wait for the exit, SIGKILL after a bound. Idempotent. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (stops it first if it is running). Data is lost. */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  /** Longest wait for `+PONG` after spawning. Default 15 s. */
  readyTimeoutMs?: number;
  /** Written to `redis.conf` in the server's directory and loaded first (a sentinel needs a file). */
  config?: string;
  /** More arguments, after the defaults (`--sentinel`, `--tls-port`...). */
  args?: string[];
}

const REDIS_BIN = process.env.FERRO_REDIS_SERVER_BIN || 'redis-server';
const STOP_GRACE_MS = 5000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether `p` settles within `ms` (the timer is cleared either way: no handle left behind). */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/** A loopback port nothing listens on right now (bind 127.0.0.1:0, read the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not read the port of a loopback listener'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

interface Probe {
  pong: boolean;
  /** `process_id` from `INFO server`, when the reply was read. */
  pid?: number;
}

/**
 * Raw TCP `PING` then `INFO server`: whether the reply starts with `+PONG`, and which process
 * answered (so a server already on the port is not mistaken for ours). Never throws.
 */
function probe(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<Probe> {
  return new Promise((resolve) => {
    let data = '';
    let settled = false;
    const socket = net.connect({ port, host });
    const done = (result: Probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ pong: data.startsWith('+PONG') }), timeoutMs);
    socket.setNoDelay(true);
    socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n') && !data.startsWith('+PONG')) {
        done({ pong: false });
        return;
      }
      const m = /process_id:(\d+)/.exec(data);
      if (m && data.endsWith('\r\n')) done({ pong: true, pid: Number(m[1]) });
    });
    socket.once('error', () => done({ pong: data.startsWith('+PONG') }));
    socket.once('close', () => done({ pong: data.startsWith('+PONG') }));
  });
}

/** One raw `PING` over TCP; true when the reply starts with `+PONG`. Never throws. */
export async function pingRaw(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return (await probe(port, host, timeoutMs)).pong;
}

function readLog(logPath: string): string {
  try {
    const text = fs.readFileSync(logPath, 'utf8');
    return text.length > 4000 ? '...' + text.slice(-4000) : text;
  } catch {
    return '(no log)';
  }
}

/** Whether a pid is a live process (a zombie counts as dead). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ..." — the state is the first field after the closing parenthesis.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    // no /proc (macOS): trust kill(0)
  }
  return true;
}

/** The command line of a pid, or null when it cannot be read. */
function commandLine(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    try {
      return execFileSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  }
}

/**
 * Whether `pid` still looks like the redis-server we started on `port` (guards against pid
 * reuse before we signal a pid read back from a file). redis-server retitles itself
 * `redis-server 127.0.0.1:<port>`.
 */
export function looksLikeOurRedis(pid: number, port: number): boolean {
  const cmd = commandLine(pid);
  if (cmd === null) return false;
  return cmd.includes('redis-server') && cmd.includes(String(port));
}

/**
 * Stops a redis-server we do not hold a handle for (globalTeardown, stale runs): by pid only,
 * after checking the pid is still that server. SIGTERM, then SIGKILL after a bound.
 */
export async function stopRedisByPid(pid: number, port: number): Promise<void> {
  if (!isAlive(pid)) return;
  if (!looksLikeOurRedis(pid, port)) return; // the pid was reused by something else: leave it
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + STOP_GRACE_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(25);
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  const killDeadline = Date.now() + STOP_GRACE_MS;
  while (isAlive(pid) && Date.now() < killDeadline) await sleep(25);
  if (isAlive(pid)) throw new Error(`redis-server pid ${pid} (port ${port}) survived SIGKILL`);
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
}

function spawnRedis(port: number, dir: string, logPath: string, opts: StartRedisOptions): Running {
  const fd = fs.openSync(logPath, 'a');
  let configArgs: string[] = [];
  if (opts.config !== undefined) {
    const file = path.join(dir, 'redis.conf');
    // A sentinel rewrites its file: write it only once, so a restart keeps what it learnt.
    if (!fs.existsSync(file)) fs.writeFileSync(file, opts.config);
    configArgs = [file];
  }
  let child: ChildProcess;
  try {
    child = spawn(
      REDIS_BIN,
      [
        ...configArgs,
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--save', '',
        '--appendonly', 'no',
        '--daemonize', 'no',
        '--dir', dir,
        ...(opts.args ?? []),
      ],
      // Same process group as the test runner: a Ctrl-C reaches the server too.
      { cwd: dir, stdio: ['ignore', fd, fd] },
    );
  } finally {
    fs.closeSync(fd);
  }
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      // ENOENT and friends: no 'exit' follows a failed spawn.
      fs.appendFileSync(logPath, `\nspawn ${REDIS_BIN} failed: ${err.message}\n`);
      exited = true;
      resolve();
    });
  });
  // The server must not keep the runner's event loop alive on its own.
  child.unref();
  return { child, exited: exitedPromise, hasExited: () => exited };
}

async function waitReady(port: number, running: Running, logPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (running.hasExited()) {
      throw new Error(`redis-server on port ${port} exited before answering PING. Log:\n${readLog(logPath)}`);
    }
    const answer = await probe(port, '127.0.0.1', 500);
    if (answer.pong) {
      if (answer.pid === running.child.pid) return;
      if (answer.pid !== undefined) {
        // Another server holds the port; ours will fail to bind and exit.
        await settlesWithin(running.exited, 1000);
        throw new Error(
          `redis-server on port ${port}: the port is held by another process (pid ${answer.pid}). Log:\n${readLog(logPath)}`,
        );
      }
    }
    await sleep(50);
  }
  throw new Error(
    `redis-server on port ${port} did not answer PING with +PONG within ${timeoutMs} ms. Log:\n${readLog(logPath)}`,
  );
}

async function terminate(running: Running): Promise<void> {
  if (running.hasExited()) return;
  const pid = running.child.pid;
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
  const graceful = await settlesWithin(running.exited, STOP_GRACE_MS);
  if (graceful) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  const killed = await settlesWithin(running.exited, STOP_GRACE_MS);
  if (!killed) throw new Error(`redis-server pid ${pid} did not exit after SIGKILL`);
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferro-redis-'));
  const logPath = path.join(dir, 'redis.log');

  // A port picked by freePort() can be taken by someone else before redis binds it: when the
  // caller did not ask for a port, try a few.
  const attempts = opts.port === undefined ? 3 : 1;
  let port = 0;
  let running: Running | undefined;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    port = opts.port ?? (await freePort());
    const r = spawnRedis(port, dir, logPath, opts);
    try {
      await waitReady(port, r, logPath, readyTimeoutMs);
      running = r;
      break;
    } catch (err) {
      lastError = err;
      await terminate(r).catch(() => undefined);
    }
  }
  if (running === undefined) {
    removeServerDir(dir);
    throw lastError;
  }

  let current: Running = running;
  const fixedPort = port;
  const server: RedisServer = {
    url: `redis://127.0.0.1:${fixedPort}`,
    port: fixedPort,
    dir,
    get pid(): number {
      return current.child.pid ?? -1;
    },
    async stop(): Promise<void> {
      await terminate(current);
      removeServerDir(dir);
    },
    async restart(): Promise<void> {
      await terminate(current);
      fs.mkdirSync(dir, { recursive: true });
      const r = spawnRedis(fixedPort, dir, logPath, opts);
      current = r;
      try {
        await waitReady(fixedPort, r, logPath, readyTimeoutMs);
      } catch (err) {
        await terminate(r).catch(() => undefined);
        throw err;
      }
    },
  };
  return server;
}

/** Removes a server directory made by startRedis (after it stopped). */
export function removeServerDir(dir: string): void {
  if (!path.basename(dir).startsWith('ferro-redis-')) return;
  fs.rmSync(dir, { recursive: true, force: true });
}
