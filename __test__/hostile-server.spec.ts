/**
 * A server that sends what no Redis sends (issue #12, defect 5): replies nested a million deep,
 * absurd or negative lengths, garbage type bytes, a reply never finished, or a reply trickling in
 * one byte per write. The client must turn each into a FerroError (a protocol error drops the
 * connection; the supervisor opens another) and never crash: it runs in a child process, whose
 * exit code and signal show a crash, against the fake server of `helpers/fake-server.ts`.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import type { ErrorCode } from '../index';
import { array, bulk, FakeConnection, FakeServer, startFakeServer } from './helpers/fake-server';

const CLIENT = path.join(__dirname, 'hostile-client.js');
/** The child takes a second or two; this bound only catches one that hangs. */
const CHILD_BOUND_MS = 25000;
/** Above a loaded machine's pauses: a protocol error must not turn into a timeout here. */
const COMMAND_TIMEOUT_MS = 2000;

interface Outcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  report: { hostile: { code?: ErrorCode; value?: unknown }; recovered: unknown } | null;
}

/**
 * Runs `hostile`, then after `waitMs` `ECHO back`, from a client in a child process, against
 * `server`. The client has an L1 kept coherent by tracking: a second connection, the invalidation
 * one, is open beside the main one.
 */
function runClient(server: FakeServer, hostile: string[], waitMs = 0): Promise<Outcome> {
  const options = { url: server.url, failFast: true, commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 5000 };
  const input = JSON.stringify({ options, hostile, waitMs, recover: ['ECHO', 'back'] });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, input], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_BOUND_MS);
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      resolve({ exitCode, signal, stderr, report: line === undefined ? null : JSON.parse(line) });
    });
  });
}

/** Asserts the child exited by itself and its client answered again after the hostile reply. */
function expectRecovered(outcome: Outcome): void {
  expect({ exitCode: outcome.exitCode, signal: outcome.signal, stderr: outcome.stderr }).toEqual({
    exitCode: 0,
    signal: null,
    stderr: '',
  });
  expect(outcome.report?.recovered).toBe('back');
}

/** `expectRecovered`, and the hostile command failed with one of `codes`. */
function expectSurvived(outcome: Outcome, codes: ErrorCode[]): void {
  expectRecovered(outcome);
  expect(codes).toContain(outcome.report?.hostile.code);
}

const DEEP = Buffer.from('*1\r\n'.repeat(1_000_000));

describe('a hostile server', () => {
  let server: FakeServer;

  beforeEach(async () => {
    server = await startFakeServer();
  });

  afterEach(async () => {
    await server.close();
  });

  const protocolErrors: [string, string | Buffer][] = [
    ['a reply nested 1,000,000 deep', DEEP],
    ['a bulk length of i64::MAX', '$9223372036854775807\r\n'],
    ['an array count of i64::MAX', '*9223372036854775807\r\n'],
    ['a negative bulk length other than -1', '$-5\r\n'],
    ['a garbage type byte', '?what\r\n'],
    ['a garbage type byte inside an array', '*2\r\n:1\r\n\x00\x01\x02\r\n'],
  ];

  test.each(protocolErrors)('%s is a protocol error: ERR_UNAVAILABLE, then the client reconnects', async (_, wire) => {
    let before = 0;
    server.once('GET', () => {
      before = server.connections();
      return wire;
    });
    const outcome = await runClient(server, ['GET', 'k']);
    expectSurvived(outcome, ['ERR_UNAVAILABLE']);
    // The connection was dropped: the client recovered on a new one.
    expect(server.connections()).toBeGreaterThan(before);
  });

  test('a reply never finished rejects within the command timeout, then the client recovers', async () => {
    server.once('GET', () => '$100\r\nonly part of it');
    const outcome = await runClient(server, ['GET', 'k']);
    expectSurvived(outcome, ['ERR_TIMEOUT', 'ERR_UNAVAILABLE']);
  });

  test('a message nested 1,000,000 deep on the invalidation connection drops both connections, not the process', async () => {
    let before = 0;
    server.once('SUBSCRIBE', (args, conn: FakeConnection) => {
      before = server.connections();
      // After the confirmation, once the listener reads the connection.
      setTimeout(() => conn.write(DEEP), 200);
      return array([bulk('subscribe'), bulk(args[1]), ':1\r\n']);
    });
    const outcome = await runClient(server, ['ECHO', 'before'], 1500);
    expectRecovered(outcome);
    expect(server.connections()).toBeGreaterThan(before);
  });

  test('a reply written one byte at a time parses as a whole', async () => {
    const reply = '*3\r\n$5\r\nhello\r\n*2\r\n:42\r\n+OK\r\n$-1\r\n';
    server.once('GET', (_, conn: FakeConnection) => {
      void conn.writeInPieces(reply, 1);
    });
    const outcome = await runClient(server, ['GET', 'k']);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.signal).toBeNull();
    expect(outcome.report?.hostile).toEqual({ value: ['hello', [42, 'OK'], null] });
    expect(outcome.report?.recovered).toBe('back');
  });
});
