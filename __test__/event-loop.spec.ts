/**
 * Replies are read on Node's event loop once JS has written to the connection (src/event_loop.rs).
 * A JS thread that stays busy longer than the command timeout must cost nothing: the tokio side
 * still takes the replies JS cannot read (the heartbeat's, and those of requests already sent),
 * so the connection is not declared lost and no request times out for JS's own delay.
 */
import { createClient } from '../index';
import type { Client } from '../index';
import { testUrl, uniquePrefix } from './helpers';

let client: Client;
const errors: string[] = [];

beforeAll(async () => {
  client = await createClient({ url: testUrl(), keyPrefix: uniquePrefix('evloop'), commandTimeoutMs: 500 });
  client.on('error', (e) => errors.push(`${e.code} ${e.message}`));
});

afterAll(async () => {
  await client?.close();
});

/** Keeps the JS thread busy: no event-loop turn for `ms`. */
function blockFor(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy
  }
}

test('a JS thread busy for longer than the command timeout loses no reply and no connection', async () => {
  await client.set('k', 'v');
  expect(await client.get('k')).toBe('v');
  const before = client.stats().reconnects;
  const sent = client.get('k');
  // Across two heartbeats (one PING a second, each bounded by the 500 ms command timeout).
  blockFor(2500);
  expect(await sent).toBe('v');
  expect(await client.get('k')).toBe('v');
  expect(client.stats().reconnects).toBe(before);
  expect(client.stats().timeouts).toBe(0);
  expect(errors).toEqual([]);
});

test('many commands in flight and in sequence complete in order on the event-loop reader', async () => {
  const values = Array.from({ length: 2000 }, (_, i) => `v${i}`);
  await Promise.all(values.map((v, i) => client.set(`k${i}`, v)));
  expect(await Promise.all(values.map((_, i) => client.get(`k${i}`)))).toEqual(values);
  for (let i = 0; i < 200; i++) expect(await client.get(`k${i}`)).toBe(values[i]);
});
