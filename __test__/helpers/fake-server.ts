/**
 * A fake Redis server on 127.0.0.1 (a free port), for tests of what a client does with replies no
 * real server sends: it answers what ferrocache sends on its own (the handshake's AUTH and SELECT,
 * the heartbeat's PING, the L1 coherence connection's CLIENT ID, SUBSCRIBE and CLIENT TRACKING) as
 * Redis would, and lets a test script the reply to any command, hostile or not.
 */
import * as net from 'net';

/** One client connection, as a scripted answer sees it. */
export interface FakeConnection {
  /** Sends raw bytes at once. */
  write(bytes: Buffer | string): void;
  /** Sends `bytes` one write of `size` bytes at a time, each after the previous one left. */
  writeInPieces(bytes: Buffer | string, size: number): Promise<void>;
}

/** Answers one command: the bytes to send, or nothing (the answer wrote, or never answers). */
export type Answer = (args: string[], conn: FakeConnection) => Buffer | string | void;

export interface FakeServer {
  url: string;
  /** Every command received, in order, its name upper-cased. */
  received: string[][];
  /** Connections accepted so far. */
  connections(): number;
  /** Answers the next `command` (by name, any case) with `answer`; later ones get the default. */
  once(command: string, answer: Answer): void;
  close(): Promise<void>;
}

/** A RESP bulk string. */
export const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
/** A RESP array of encoded elements. */
export const array = (items: string[]): string => `*${items.length}\r\n${items.join('')}`;
const INVALIDATE = '__redis__:invalidate';

/** What Redis answers to the commands a ferrocache client sends by itself. */
function standardAnswer(args: string[], session: { id: number; subscribed: boolean }): string {
  const [name, sub] = [args[0].toUpperCase(), (args[1] ?? '').toUpperCase()];
  switch (name) {
    case 'PING':
      // A subscribed connection answers PING with a Pub/Sub-shaped pong.
      return session.subscribed ? array([bulk('pong'), bulk('')]) : '+PONG\r\n';
    case 'ECHO':
      return bulk(args[1] ?? '');
    case 'AUTH':
    case 'SELECT':
    case 'QUIT':
      return '+OK\r\n';
    case 'ROLE':
      return array([bulk('master'), ':0\r\n', '*0\r\n']);
    case 'CLIENT':
      if (sub === 'ID') return `:${session.id}\r\n`;
      if (sub === 'TRACKING' || sub === 'SETINFO' || sub === 'SETNAME') return '+OK\r\n';
      break;
    case 'SUBSCRIBE':
      session.subscribed = true;
      return array([bulk('subscribe'), bulk(args[1] ?? INVALIDATE), ':1\r\n']);
    default:
  }
  return `-ERR unknown command '${args[0]}'\r\n`;
}

/**
 * Reads the RESP arrays of bulk strings a client sends from the front of `buf`: the commands
 * whole, and the bytes they used.
 */
function readCommands(buf: Buffer): { commands: string[][]; used: number } {
  const commands: string[][] = [];
  let pos = 0;
  const line = (): string | null => {
    const end = buf.indexOf('\r\n', pos);
    if (end < 0) return null;
    const text = buf.toString('latin1', pos, end);
    pos = end + 2;
    return text;
  };
  for (;;) {
    const start = pos;
    const header = line();
    if (header === null) return { commands, used: start };
    if (header[0] !== '*') throw new Error(`fake server: not a command: ${JSON.stringify(header)}`);
    const args: string[] = [];
    for (let i = 0; i < Number(header.slice(1)); i++) {
      const lenLine = line();
      const len = lenLine === null ? NaN : Number(lenLine.slice(1));
      if (!(buf.length >= pos + len + 2)) return { commands, used: start };
      args.push(buf.toString('utf8', pos, pos + len));
      pos += len + 2;
    }
    commands.push(args);
  }
}

export async function startFakeServer(): Promise<FakeServer> {
  const scripted = new Map<string, Answer[]>();
  const received: string[][] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;

  const server = net.createServer((socket) => {
    sockets.add(socket);
    accepted++;
    socket.setNoDelay(true);
    // A client that drops the connection mid-answer is what several tests cause.
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    const session = { id: accepted, subscribed: false };
    const conn: FakeConnection = {
      write: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
      writeInPieces: async (bytes, size) => {
        const all = Buffer.from(bytes);
        for (let i = 0; i < all.length && !socket.destroyed; i += size) {
          await new Promise<void>((resolve) => socket.write(all.subarray(i, i + size), () => resolve()));
          // One event-loop turn between writes, so each leaves as its own segment.
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
    };
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      const { commands, used } = readCommands(pending);
      pending = pending.subarray(used);
      for (const args of commands) {
        received.push([args[0].toUpperCase(), ...args.slice(1)]);
        const answer = scripted.get(args[0].toUpperCase())?.shift();
        const reply = answer === undefined ? standardAnswer(args, session) : answer(args, conn);
        if (reply !== undefined) conn.write(reply);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    received,
    connections: () => accepted,
    once(command, answer) {
      const name = command.toUpperCase();
      scripted.set(name, [...(scripted.get(name) ?? []), answer]);
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
