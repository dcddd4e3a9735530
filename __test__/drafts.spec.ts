/** Onboarding drafts: step merge, versions and conflicts, the sliding TTL, atomic complete. On every backend. */
import { createClient } from '../index';
import type { Client, ClientOptions, FerroError } from '../index';
import { backends, expectRejectsWith, inspector, sleep, uniquePrefix } from './helpers';
import type { Inspector } from './helpers';

describe.each(backends)('$name', (backend) => {
  const { url } = backend;
  const clients: Client[] = [];
  let prefix: string;
  let inspect: Inspector;

  async function open(options: Omit<ClientOptions, 'url' | 'keyPrefix'> = {}): Promise<Client> {
    const c = await createClient({ url, keyPrefix: prefix, ...options });
    clients.push(c);
    return c;
  }

  const draftKey = (id: string, namespace = 'onboarding') => `${prefix}draft:${namespace}:${id}`;
  const pttl = async (id: string) => Number(await inspect.cli('PTTL', draftKey(id)));

  beforeAll(async () => {
    inspect = await inspector(backend);
  });

  beforeEach(() => {
    prefix = uniquePrefix('drafts');
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await inspect.close();
  });

  test('three saves merge into one draft, each bumping the version', async () => {
    const drafts = (await open()).drafts();
    const d1 = await drafts.save('user-1', 'identity', { name: 'Jean' });
    expect(d1).toMatchObject({ id: 'user-1', steps: { identity: { name: 'Jean' } }, version: 1 });
    const d2 = await drafts.save('user-1', 'budget', { min: 50000, max: 90000 });
    expect(d2.version).toBe(2);
    const d3 = await drafts.save('user-1', 'preferences', ['calm', 'garden']);
    expect(d3.version).toBe(3);
    expect(d3.steps).toEqual({
      identity: { name: 'Jean' },
      budget: { min: 50000, max: 90000 },
      preferences: ['calm', 'garden'],
    });
    expect(new Date(d3.updatedAt).toISOString()).toBe(d3.updatedAt);
    expect(d3.expiresInSeconds).toBe(86400);
    expect(await drafts.get('user-1')).toEqual(d3);
  });

  test('saving a step again replaces it', async () => {
    const drafts = (await open()).drafts();
    await drafts.save('u', 'identity', { name: 'Jean' });
    const d = await drafts.save('u', 'identity', { name: 'Jeanne' });
    expect(d.steps).toEqual({ identity: { name: 'Jeanne' } });
    expect(d.version).toBe(2);
  });

  test('a hash of one field per step, readable with redis-cli (or any client)', async () => {
    const drafts = (await open()).drafts('signup');
    await drafts.save('u', 'identity', { name: 'Jean' });
    expect(await inspect.cli('TYPE', draftKey('u', 'signup'))).toBe('hash');
    expect(JSON.parse(await inspect.cli('HGET', draftKey('u', 'signup'), 'identity'))).toEqual({ name: 'Jean' });
    expect(await inspect.cli('HGET', draftKey('u', 'signup'), '_version')).toBe('1');
  });

  describe('expectedVersion', () => {
    test('the current version saves; a stale one rejects ERR_DRAFT_CONFLICT and writes nothing', async () => {
      const drafts = (await open()).drafts();
      await drafts.save('u', 'a', 1, { expectedVersion: 0 });
      await drafts.save('u', 'b', 2, { expectedVersion: 1 });
      const before = await drafts.get('u');
      const err = (await expectRejectsWith(() => drafts.save('u', 'c', 3, { expectedVersion: 1 }), 'ERR_DRAFT_CONFLICT')) as FerroError;
      expect(err.name).toBe('FerroError');
      expect(await drafts.get('u')).toEqual(before);
      expect(before?.version).toBe(2);
    });

    test('0 means "only if there is no draft yet"', async () => {
      const drafts = (await open()).drafts();
      await drafts.save('u', 'a', 1, { expectedVersion: 0 });
      await expectRejectsWith(() => drafts.save('u', 'a', 2, { expectedVersion: 0 }), 'ERR_DRAFT_CONFLICT');
      await expectRejectsWith(() => drafts.save('missing', 'a', 1, { expectedVersion: 3 }), 'ERR_DRAFT_CONFLICT');
      expect(await drafts.get('missing')).toBeNull();
    });

    test('of concurrent saves from the same version, exactly one wins', async () => {
      const [c1, c2] = [await open(), await open()];
      const saves = Array.from({ length: 10 }, (_, i) => (i % 2 ? c1 : c2).drafts().save('u', `s${i}`, i, { expectedVersion: 0 }));
      const settled = await Promise.allSettled(saves);
      expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
      for (const s of settled) {
        if (s.status === 'rejected') expect((s.reason as FerroError).code).toBe('ERR_DRAFT_CONFLICT');
      }
    });
  });

  describe('the sliding TTL', () => {
    test('every save refreshes it; get does not', async () => {
      const drafts = (await open()).drafts('onboarding', { ttl: 3 });
      await drafts.save('u', 'a', 1);
      expect(await pttl('u')).toBeGreaterThan(2500);
      await sleep(1200);
      const aged = await pttl('u');
      expect(aged).toBeLessThanOrEqual(1900);
      const read = await drafts.get('u');
      expect(read?.expiresInSeconds).toBeLessThanOrEqual(2);
      expect(await pttl('u')).toBeLessThanOrEqual(aged);
      const saved = await drafts.save('u', 'b', 2);
      expect(saved.expiresInSeconds).toBe(3);
      expect(await pttl('u')).toBeGreaterThan(2500);
    });
  });

  describe('complete', () => {
    test('returns the draft and deletes it', async () => {
      const drafts = (await open()).drafts();
      await drafts.save('u', 'identity', { name: 'Jean' });
      const done = await drafts.complete('u');
      expect(done).toMatchObject({ id: 'u', steps: { identity: { name: 'Jean' } }, version: 1 });
      expect(await inspect.cli('EXISTS', draftKey('u'))).toBe('0');
      expect(await drafts.complete('u')).toBeNull();
    });

    test('20 concurrent callers on two clients: exactly one gets the draft', async () => {
      const [c1, c2] = [await open(), await open()];
      await c1.drafts().save('u', 'identity', { name: 'Jean' });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? c1 : c2).drafts().complete('u')));
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect(winners[0]?.steps).toEqual({ identity: { name: 'Jean' } });
    });
  });

  test('discard, and reads of a missing draft', async () => {
    const drafts = (await open()).drafts();
    expect(await drafts.get('nobody')).toBeNull();
    expect(await drafts.discard('nobody')).toBe(false);
    await drafts.save('u', 'a', 1);
    expect(await drafts.discard('u')).toBe(true);
    expect(await drafts.get('u')).toBeNull();
  });

  test('namespaces keep drafts apart', async () => {
    const c = await open();
    await c.drafts('signup').save('u', 'a', 1);
    expect(await c.drafts('checkout').get('u')).toBeNull();
    expect((await c.drafts('signup').get('u'))?.steps).toEqual({ a: 1 });
  });

  describe('bad input: ERR_INVALID_ARGUMENT, nothing written', () => {
    test.each([
      ['empty step', 'u', '', 1, undefined],
      ['step starting with _', 'u', '_version', 1, undefined],
      ['numeric step', 'u', 3, 1, undefined],
      ['empty id', '', 'a', 1, undefined],
      ['numeric id', 7, 'a', 1, undefined],
      ['undefined data', 'u', 'a', undefined, undefined],
      ['circular data', 'u', 'a', (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })(), undefined],
      ['negative expectedVersion', 'u', 'a', 1, { expectedVersion: -1 }],
      ['fractional expectedVersion', 'u', 'a', 1, { expectedVersion: 1.5 }],
    ])('save: %s', async (_name, id, step, data, opts) => {
      const drafts = (await open()).drafts();
      await expectRejectsWith(() => drafts.save(id as never, step as never, data, opts as never), 'ERR_INVALID_ARGUMENT');
      expect(await inspect.cli('EXISTS', draftKey('u'))).toBe('0');
    });

    test('get, discard, complete with a bad id', async () => {
      const drafts = (await open()).drafts();
      await expectRejectsWith(() => drafts.get(''), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => drafts.discard(null as never), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => drafts.complete(undefined as never), 'ERR_INVALID_ARGUMENT');
    });

    test('namespace and ttl options', async () => {
      const c = await open();
      expect(() => c.drafts('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      expect(() => c.drafts('x', { ttl: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    });
  });
});
