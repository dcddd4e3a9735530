/**
 * `command()` on a connection every caller shares (issue #12, points 2 and 6): commands that
 * change the connection's state are refused before anything is sent; blocking commands run on a
 * connection of their own, so they delay no other call and close() ends them; an error inside a
 * MULTI/EXEC rejects its call instead of resolving as text.
 */
import { createClient } from '../index';
import type { Client } from '../index';
import { backends, expectRejectsWith, inspector, l1Tier, relaxed, startRedis, uniquePrefix } from './helpers';
import type { RedisServer } from './helpers';
import type { Inspector } from './helpers';

const REFUSED: string[][] = [
  ['SUBSCRIBE', 'a'],
  ['psubscribe', 'a*'],
  ['SSUBSCRIBE', 'a'],
  ['UNSUBSCRIBE'],
  ['MONITOR'],
  ['RESET'],
  ['QUIT'],
  ['HELLO', '3'],
  ['AUTH', 'nobody', 'secret'],
  ['CLIENT', 'REPLY', 'OFF'],
  ['client', 'tracking', 'on'],
  ['SELECT', '3'],
  ['MULTI'],
  ['EXEC'],
  ['DISCARD'],
  ['WATCH', 'k'],
  ['UNWATCH'],
  ['READONLY'],
  ['SYNC'],
];

describe.each(backends)('$name', (backend) => {
  let c: Client;
  let prefix: string;
  let peek: Inspector;
  beforeAll(async () => {
    peek = await inspector(backend);
  });
  afterAll(async () => {
    await peek.close();
  });
  beforeEach(async () => {
    prefix = uniquePrefix('guard');
    c = await createClient({ url: backend.url, keyPrefix: prefix, ...relaxed });
  });
  afterEach(async () => {
    await c.close();
  });

  describe.each(REFUSED.map((args) => ({ args, name: args.join(' ') })))('command($name)', ({ args }) => {
    it('is refused with ERR_INVALID_ARGUMENT, and the connection serves every later call as before', async () => {
      await c.set('k', 'v');
      const err = await expectRejectsWith(() => c.command(args), 'ERR_INVALID_ARGUMENT');
      expect(err.message).toContain(args[0].toUpperCase());
      // Still database 0, not in a subscriber or transaction mode: the value is there, replies match.
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => c.command(['ECHO', `e${i}`])));
      expect(values).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
      expect(await c.get('k')).toBe('v');
    });
  });

  it('names what to use instead', async () => {
    expect((await expectRejectsWith(() => c.command(['SELECT', '1']), 'ERR_INVALID_ARGUMENT')).message).toMatch(/url/i);
    expect((await expectRejectsWith(() => c.command(['MULTI']), 'ERR_INVALID_ARGUMENT')).message).toMatch(/mset/);
    expect((await expectRejectsWith(() => c.command(['SUBSCRIBE', 'x']), 'ERR_INVALID_ARGUMENT')).message).toMatch(/pub\/sub/);
  });

  it('a blocking BLPOP delays no other call, and is served by a later push', async () => {
    const list = `${prefix}list`;
    let popped = false;
    const pop = c.command(['BLPOP', list, '10']).then((r) => {
      popped = true;
      return r;
    });
    // Hundreds of calls complete while the BLPOP is still waiting.
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => c.set(`k${i}`, round)));
      expect(popped).toBe(false);
    }
    await c.command(['RPUSH', list, 'job']);
    expect(await pop).toEqual([list, 'job']);
  });

  it('BRPOP with timeout 0 (no bound) is ended by close() with ERR_CLOSED', async () => {
    const other = await createClient({ url: backend.url, keyPrefix: prefix, ...relaxed });
    const pop = other.command(['BRPOP', `${prefix}never`, '0']);
    await other.set('x', 1);
    await other.close();
    await expectRejectsWith(() => pop, 'ERR_CLOSED');
  });

  it('a blocking command that times out on the server resolves null', async () => {
    expect(await c.command(['BLPOP', `${prefix}empty`, '0.05'])).toBeNull();
    // One hash tag: both lists in one Cluster slot.
    expect(await c.command(['BLMOVE', `${prefix}{e}empty`, `${prefix}{e}other`, 'LEFT', 'RIGHT', '0.05'])).toBeNull();
  });

  it('a blocking command with an unreadable timeout gets the server error, not a hang', async () => {
    await expectRejectsWith(() => c.command(['BLPOP', `${prefix}empty`, 'soon']), 'ERR_REDIS');
  });

  it('command() writes evict the L1 copy of a key they name', async () => {
    await c.close();
    c = await createClient({ url: backend.url, keyPrefix: prefix, local: l1Tier(backend, {}), ...relaxed });
    await c.cache.set('cached', 1);
    expect(c.cache.peek('cached')).toBe(1);
    await c.command(['SET', `${prefix}cached`, '2']);
    expect(c.cache.peek('cached')).toBeUndefined();
    expect(await c.cache.get('cached')).toBe(2);
    // A read names the key too, but changes nothing: the copy stays.
    await c.cache.set('kept', 1);
    await c.command(['GET', `${prefix}kept`]);
    expect(c.cache.peek('kept')).toBe(1);
  });

  it('an error inside incr(key, by, { ttl })’s transaction rejects with ERR_REDIS', async () => {
    await c.set('text', 'abc');
    await expectRejectsWith(() => c.incr('text', 1, { ttl: '1m' }), 'ERR_REDIS');
    expect(await c.get('text')).toBe('abc');
  });

  it('an error inside drafts.complete’s transaction rejects with ERR_REDIS', async () => {
    const drafts = c.drafts('signup');
    await drafts.save('d1', 'step1', { a: 1 });
    const [key] = await peek.scanKeys(`${prefix}*d1*`);
    expect(key).toBeDefined();
    await c.command(['SET', key, 'abc']);
    await expectRejectsWith(() => drafts.complete('d1'), 'ERR_REDIS');
  });

  it('an error element of a script reply is an Error with code ERR_REDIS, not text', async () => {
    const script = "return {1, redis.error_reply('boom')}";
    if (backend.name === 'memory') {
      // memory:// runs only the library's own scripts, and refuses another.
      await expectRejectsWith(() => c.command(['EVAL', script, '0']), 'ERR_INVALID_ARGUMENT');
      return;
    }
    const reply = (await c.command(['EVAL', script, '0'])) as unknown[];
    expect(reply[0]).toBe(1);
    // An Error of the addon's realm (Jest runs tests in a realm of their own).
    expect(Object.prototype.toString.call(reply[1])).toBe('[object Error]');
    expect((reply[1] as Error & { code: string }).code).toBe('ERR_REDIS');
    expect((reply[1] as Error).message).toContain('boom');
  });

  it('many blocking commands at once each get their own connection and their own item', async () => {
    const lists = Array.from({ length: 8 }, (_, i) => `${prefix}{q}${i}`);
    const pops = lists.map((l) => c.command(['BLPOP', l, '10']));
    await Promise.all(lists.map((l, i) => c.command(['RPUSH', l, `item${i}`])));
    expect(await Promise.all(pops)).toEqual(lists.map((l, i) => [l, `item${i}`]));
  });
});

describe('command() emptying the database', () => {
  // A server and a memory:// store of this test alone: FLUSHDB would empty what other files share.
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['redis', () => server.url],
    ['memory', () => `memory://flush-${process.pid}`],
  ])('on %s, FLUSHDB empties this client’s L1 (the server never reports its own flush back)', async (_name, url) => {
    const c = await createClient({ url: url(), ...relaxed });
    try {
      await c.cache.set('k', 1);
      expect(c.cache.peek('k')).toBe(1);
      await c.command(['FLUSHDB']);
      expect(c.cache.peek('k')).toBeUndefined();
      expect(await c.cache.get('k')).toBeNull();
    } finally {
      await c.close();
    }
  });
});
