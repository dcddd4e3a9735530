/**
 * The JWT blacklist: per-token revocation, revoke-all per user, one round trip, fail closed.
 * On every backend, except the outage of a server that stops (Redis only).
 */
import { createClient } from '../index';
import type { Client, ClientOptions, ErrorCode } from '../index';
import { backends, expectRejectsWith, inspector, startRedis, uniquePrefix } from './helpers';
import type { Inspector, RedisServer } from './helpers';

const clients: Client[] = [];
let prefix: string;

async function openOn(url: string, options: Omit<ClientOptions, 'url' | 'keyPrefix'> = {}): Promise<Client> {
  const c = await createClient({ url, keyPrefix: prefix, ...options });
  clients.push(c);
  return c;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeEach(() => {
  prefix = uniquePrefix('blacklist');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe.each(backends)('$name', (backend) => {
  let inspect: Inspector;
  const open = (options: Omit<ClientOptions, 'url' | 'keyPrefix'> = {}) => openOn(backend.url, options);

  beforeAll(async () => {
    inspect = await inspector(backend);
  });

  afterAll(async () => {
    await inspect.close();
  });

  describe('revoke', () => {
    test('a revoked token is revoked, another is not', async () => {
      const bl = (await open()).tokenBlacklist();
      await bl.revoke({ jti: 'a', exp: nowSeconds() + 600 });
      expect(await bl.isRevoked({ jti: 'a' })).toBe(true);
      expect(await bl.isRevoked({ jti: 'b' })).toBe(false);
    });

    test('the key expires with the token: SET <prefix>jwt:jti:<jti> 1 EXAT exp', async () => {
      const bl = (await open()).tokenBlacklist();
      const exp = nowSeconds() + 600;
      await bl.revoke({ jti: 'ttl', exp });
      const key = `${prefix}jwt:jti:ttl`;
      expect(await inspect.cli('GET', key)).toBe('1');
      expect(Number(await inspect.cli('EXPIRETIME', key))).toBe(exp);
      const ttl = Number(await inspect.cli('TTL', key));
      expect(Math.abs(ttl - (exp - nowSeconds()))).toBeLessThanOrEqual(1);
    });

    test('an expired token writes nothing', async () => {
      const bl = (await open()).tokenBlacklist();
      await bl.revoke({ jti: 'old', exp: nowSeconds() - 10 });
      expect(await inspect.cli('EXISTS', `${prefix}jwt:jti:old`)).toBe('0');
      expect(await bl.isRevoked({ jti: 'old' })).toBe(false);
    });

    test('the prefix option names the keys', async () => {
      const bl = (await open()).tokenBlacklist({ prefix: 'auth:bl' });
      await bl.revoke({ jti: 'p', exp: nowSeconds() + 60 });
      expect(await inspect.cli('EXISTS', `${prefix}auth:bl:jti:p`)).toBe('1');
    });
  });

  describe('revokeAllForUser', () => {
    test('catches tokens issued before and in the same second, not after', async () => {
      const bl = (await open()).tokenBlacklist();
      const before = nowSeconds() - 120;
      // Issued a moment before the revoke-all, in the same second (iat has second precision).
      const sameSecond = nowSeconds();
      await bl.revokeAllForUser('u1');
      expect(await bl.isRevoked({ jti: 'x1', sub: 'u1', iat: before })).toBe(true);
      expect(await bl.isRevoked({ jti: 'x2', sub: 'u1', iat: sameSecond })).toBe(true);
      expect(await bl.isRevoked({ jti: 'x3', sub: 'u1', iat: nowSeconds() + 2 })).toBe(false);
      // Other users, and a check without sub, are unaffected.
      expect(await bl.isRevoked({ jti: 'x4', sub: 'u2', iat: before })).toBe(false);
      expect(await bl.isRevoked({ jti: 'x5' })).toBe(false);
    });

    test('a token without iat cannot prove it is newer: revoked', async () => {
      const bl = (await open()).tokenBlacklist();
      await bl.revokeAllForUser('u1');
      expect(await bl.isRevoked({ jti: 'x', sub: 'u1' })).toBe(true);
    });

    test('stores the server time in ms for maxTokenLifetime', async () => {
      const bl = (await open()).tokenBlacklist();
      await bl.revokeAllForUser('u1', { maxTokenLifetime: '2h' });
      const key = `${prefix}jwt:user:u1`;
      const [serverSeconds] = (await inspect.cli('TIME')).split('\n').map(Number);
      const stored = Number(await inspect.cli('GET', key));
      expect(Number.isInteger(stored)).toBe(true);
      expect(Math.abs(stored - serverSeconds * 1000)).toBeLessThan(5000);
      const ttl = Number(await inspect.cli('TTL', key));
      expect(ttl).toBeGreaterThan(7190);
      expect(ttl).toBeLessThanOrEqual(7200);
    });

    test('defaults to one day', async () => {
      const bl = (await open()).tokenBlacklist();
      await bl.revokeAllForUser('u1');
      const ttl = Number(await inspect.cli('TTL', `${prefix}jwt:user:u1`));
      expect(ttl).toBeGreaterThan(86390);
      expect(ttl).toBeLessThanOrEqual(86400);
    });
  });

  test('isRevoked is one command, one round trip', async () => {
    const c = await open();
    const bl = c.tokenBlacklist();
    await bl.revokeAllForUser('u1');
    const before = c.stats().commands;
    expect(await bl.isRevoked({ jti: 'r', sub: 'u1', iat: nowSeconds() + 5 })).toBe(false);
    expect(c.stats().commands - before).toBe(1);
  });

  test('a closed client rejects with ERR_CLOSED rather than answering by policy', async () => {
    const c = await open();
    const bl = c.tokenBlacklist();
    await c.close();
    await expectRejectsWith(() => bl.isRevoked({ jti: 'a' }), 'ERR_CLOSED');
  });

  describe('bad input: ERR_INVALID_ARGUMENT, nothing written', () => {
    test.each([
      ['no token', undefined],
      ['empty jti', { jti: '', exp: 2e9 }],
      ['numeric jti', { jti: 42, exp: 2e9 }],
      ['NaN exp', { jti: 'a', exp: NaN }],
      ['string exp', { jti: 'a', exp: '2000000000' }],
      ['missing exp', { jti: 'a' }],
    ])('revoke: %s', async (_name, token) => {
      const bl = (await open()).tokenBlacklist();
      await expectRejectsWith(() => bl.revoke(token as never), 'ERR_INVALID_ARGUMENT');
      expect(await inspect.cli('EXISTS', `${prefix}jwt:jti:a`)).toBe('0');
    });

    test.each([
      ['null token', null],
      ['missing jti', { sub: 'u' }],
      ['empty sub', { jti: 'a', sub: '' }],
      ['infinite iat', { jti: 'a', sub: 'u', iat: Infinity }],
      ['string iat', { jti: 'a', sub: 'u', iat: '1' }],
    ])('isRevoked: %s', async (_name, token) => {
      const bl = (await open()).tokenBlacklist();
      await expectRejectsWith(() => bl.isRevoked(token as never), 'ERR_INVALID_ARGUMENT');
    });

    test('revokeAllForUser: empty sub, bad maxTokenLifetime', async () => {
      const bl = (await open()).tokenBlacklist();
      await expectRejectsWith(() => bl.revokeAllForUser(''), 'ERR_INVALID_ARGUMENT');
      await expectRejectsWith(() => bl.revokeAllForUser('u', { maxTokenLifetime: -1 }), 'ERR_INVALID_ARGUMENT');
      expect(await inspect.cli('EXISTS', `${prefix}jwt:user:u`)).toBe('0');
    });

    test('options', async () => {
      const c = await open();
      expect(() => c.tokenBlacklist({ onRedisError: 'maybe' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      expect(() => c.tokenBlacklist({ prefix: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    });
  });
});

describe('Redis only: when the server is down', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });

  afterAll(async () => {
    await server?.stop();
  });

  test("isRevoked fails closed ('deny', the default) or open ('allow'); writes reject", async () => {
    const c = await openOn(server.url, { connectTimeoutMs: 500, commandTimeoutMs: 500 });
    const deny = c.tokenBlacklist();
    const allow = c.tokenBlacklist({ onRedisError: 'allow' });
    expect(await deny.isRevoked({ jti: 'a', sub: 'u', iat: 1 })).toBe(false);
    await server.stop();
    expect(await deny.isRevoked({ jti: 'a', sub: 'u', iat: 1 })).toBe(true);
    expect(await allow.isRevoked({ jti: 'a', sub: 'u', iat: 1 })).toBe(false);
    const outage: ErrorCode[] = ['ERR_UNAVAILABLE', 'ERR_TIMEOUT'];
    await expectRejectsWith(() => deny.revoke({ jti: 'a', exp: nowSeconds() + 60 }), outage);
    await expectRejectsWith(() => deny.revokeAllForUser('u'), outage);
  });
});
