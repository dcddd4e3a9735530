/**
 * A TCP proxy on 127.0.0.1 in front of a Redis server, whose network faults a test switches at
 * run time, to see what the client does on a bad path rather than on a dead server:
 *
 * - `pass`: bytes go through as they come.
 * - `delay(ms)`: every chunk, in each direction, is held `ms` before it goes on. Order is kept:
 *   a chunk never overtakes one that arrived before it, so after `pass()` the delayed chunks
 *   still go first (late replies really arrive late).
 * - `blackhole`: the sockets stay open and every byte that arrives is dropped, both ways; new
 *   connections are accepted and treated alike. The path is broken for good for the bytes
 *   lost, so a connection opened before the blackhole stays unusable after it.
 * - `reset`: every connection is destroyed with a TCP RST (`resetAndDestroy`), and so is every
 *   connection accepted while in this mode.
 * - `split`: each chunk is written one byte a write, each write on its own event-loop turn.
 *
 * The mode in force when a chunk arrives decides its fate. Only loopback is ever touched.
 *
 * `fakeServer` stands in for a server that misbehaves on its own: one that accepts and never
 * answers, or answers what it likes.
 */
import * as net from 'net';
import { testUrl } from '../helpers';

export type FaultMode = { kind: 'pass' } | { kind: 'delay'; ms: number } | { kind: 'blackhole' } | { kind: 'reset' } | { kind: 'split' };

export interface FaultProxy {
  /** The target's URL with the proxy's address instead (credentials and database kept). */
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far (a changed count means the client reconnected). */
  readonly accepted: number;
  /** The local ports of the open connections to the target: the `addr` Redis sees (CLIENT LIST). */
  upstreamPorts(): number[];
  pass(): void;
  delay(ms: number): void;
  blackhole(): void;
  reset(): void;
  split(): void;
  close(): Promise<void>;
}

/** One client connection and the proxy's connection to the target for it. */
interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

/** Starts a proxy to `target` (default: the run's Redis, FERRO_TEST_URL), in mode `pass`. */
export async function startFaultProxy(target: string = testUrl()): Promise<FaultProxy> {
  const to = new URL(target);
  const targetPort = Number(to.port);
  let mode: FaultMode = { kind: 'pass' };
  let accepted = 0;
  const pairs = new Set<Pair>();

  const resetPair = (pair: Pair) => {
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
    pairs.delete(pair);
  };

  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: to.hostname, port: targetPort });
    const pair = { client, upstream };
    pairs.add(pair);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      // A reset or a closed peer is what this proxy is for: errors only end the pair.
      socket.on('error', () => undefined);
      socket.on('close', () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    if (mode.kind === 'reset') {
      resetPair(pair);
      return;
    }
    lane(client, upstream, () => mode);
    lane(upstream, client, () => mode);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    url: url.toString().replace(/\/$/, ''),
    port,
    get accepted() {
      return accepted;
    },
    upstreamPorts: () => Array.from(pairs, (p) => p.upstream.localPort).filter((p): p is number => p !== undefined),
    pass: () => {
      mode = { kind: 'pass' };
    },
    delay: (ms) => {
      mode = { kind: 'delay', ms };
    },
    blackhole: () => {
      mode = { kind: 'blackhole' };
    },
    reset: () => {
      mode = { kind: 'reset' };
      Array.from(pairs).forEach(resetPair);
    },
    split: () => {
      mode = { kind: 'split' };
    },
    close: async () => {
      for (const pair of Array.from(pairs)) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Forwards `from`'s bytes to `to` in order, each chunk as the mode at its arrival says. */
function lane(from: net.Socket, to: net.Socket, current: () => FaultMode): void {
  let tail = Promise.resolve();
  from.on('data', (chunk: Buffer) => {
    const mode = current();
    if (mode.kind === 'blackhole' || mode.kind === 'reset') return;
    const due = Date.now() + (mode.kind === 'delay' ? mode.ms : 0);
    const split = mode.kind === 'split';
    tail = tail.then(async () => {
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (!split) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      for (let i = 0; i < chunk.length && !to.destroyed; i++) {
        to.write(chunk.subarray(i, i + 1));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
  });
}

/** A TCP server on 127.0.0.1 that is not Redis. */
export interface FakeServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/** Hands each accepted connection to `onConnection`; by default accepts and never answers a byte. */
export async function fakeServer(onConnection: (socket: net.Socket) => void = () => undefined): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
