/**
 * ferrocache/express against real Express apps (supertest), on Redis and on memory://:
 * cacheResponse (HIT/MISS, what it never caches, invalidation, Redis down), rateLimit (429, the
 * draft and legacy headers, key, skip, handler, trust proxy), rejectRevokedTokens (401) and
 * healthHandler (200, and 503 with the Redis server stopped).
 */
import express from 'express';
import request from 'supertest';
import { createClient, FerroError, key } from '../index';
import type { Client } from '../index';
import { cacheResponse, healthHandler, rateLimit, rejectRevokedTokens } from '../express';
import { BACKENDS } from './backends';
import { cleanupPrefixes, expectFerroError, freePort, relaxed, scanKeys, globEscape, startRedis, testUrl, uniquePrefix, waitFor } from './helpers';

const opened: Client[] = [];

async function open(url: string, keyPrefix: string, extra: object = relaxed): Promise<Client> {
  const client = await createClient({ url, keyPrefix, ...extra });
  opened.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await cleanupPrefixes(testUrl());
});

/** An app whose error handler answers `{ code }` with 500, so a FerroError passed to next() shows. */
function appWith(setup: (app: express.Express) => void): express.Express {
  const app = express();
  setup(app);
  app.use((err: FerroError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ code: err.code });
  });
  return app;
}

describe.each(BACKENDS)('ferrocache/express on $name', (backend) => {
  describe('cacheResponse', () => {
    let redis: Client;
    let prefix: string;
    let calls: number;

    beforeEach(async () => {
      prefix = uniquePrefix(`express-cache-${backend.name}`);
      redis = await open(backend.url(), prefix);
      calls = 0;
    });

    function menuApp(opts: Parameters<typeof cacheResponse>[1] = { ttl: 60 }): express.Express {
      return appWith((app) => {
        app.get('/api/menu', cacheResponse(redis, opts), (req, res) => {
          calls++;
          res.status(203).json({ dishes: ['soup'], lang: req.get('Accept-Language') ?? null, n: calls });
        });
        app.post('/api/menu', cacheResponse(redis, opts), (_req, res) => {
          calls++;
          res.json({ posted: calls });
        });
      });
    }

    it('answers a repeat GET from the cache: status, body and content type, with X-Cache', async () => {
      const app = menuApp();
      const first = await request(app).get('/api/menu').expect(203);
      expect(first.headers['x-cache']).toBe('MISS');
      const second = await request(app).get('/api/menu').expect(203);
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.headers['content-type']).toBe(first.headers['content-type']);
      expect(second.body).toEqual({ dishes: ['soup'], lang: null, n: 1 });
      expect(calls).toBe(1);
      // The readable default key, in Redis itself.
      if (backend.name === 'redis') {
        expect(await scanKeys(testUrl(), globEscape(prefix) + '*')).toEqual([`${prefix}http:GET:/api/menu`]);
      }
      expect(await redis.cache.get('http:GET:/api/menu')).toMatchObject({ status: 203 });
    });

    it('a pattern invalidation reaches the default key; the next GET is a MISS', async () => {
      const app = menuApp();
      await request(app).get('/api/menu?page=2').expect(203);
      await request(app).get('/api/menu?page=2').expect('X-Cache', 'HIT');
      expect(await redis.cache.invalidate('*menu*')).toBe(1);
      const after = await request(app).get('/api/menu?page=2').expect('X-Cache', 'MISS');
      expect(after.body.n).toBe(2);
    });

    it('a custom key and tags: invalidateTags reaches the entry', async () => {
      const app = menuApp({ ttl: '5m', key: 'menu:full', tags: ['menu'] });
      await request(app).get('/api/menu').expect('X-Cache', 'MISS');
      await request(app).get('/api/menu').expect('X-Cache', 'HIT');
      expect(await redis.cache.get('menu:full')).not.toBeNull();
      await redis.cache.invalidateTags(['menu']);
      await request(app).get('/api/menu').expect('X-Cache', 'MISS');
      expect(calls).toBe(2);
    });

    it('vary headers are part of the key and of the Vary response header', async () => {
      const app = menuApp({ ttl: 60, vary: ['Accept-Language'] });
      const fr = await request(app).get('/api/menu').set('Accept-Language', 'fr').expect('X-Cache', 'MISS');
      expect(fr.headers.vary).toMatch(/Accept-Language/i);
      await request(app).get('/api/menu').set('Accept-Language', 'de').expect('X-Cache', 'MISS');
      const again = await request(app).get('/api/menu').set('Accept-Language', 'fr').expect('X-Cache', 'HIT');
      expect(again.body.lang).toBe('fr');
      expect(calls).toBe(2);
    });

    it('jitter spreads the TTLs of the responses it stores', async () => {
      const app = appWith((a) => {
        a.get('/j/:n', cacheResponse(redis, { ttl: 100, jitter: 0.5 }), (req, res) => {
          res.json({ n: req.params.n });
        });
      });
      const paths = Array.from({ length: 30 }, (_, i) => `/j/${i}`);
      for (const p of paths) await request(app).get(p).expect(200);
      // The middleware writes after the response is sent.
      const ttlsOf = () => Promise.all(paths.map((p) => redis.ttl(key('http', 'GET', p))));
      await waitFor(async () => (await ttlsOf()).every((s) => s > 0));
      const ttls = await ttlsOf();
      for (const t of ttls) {
        expect(t).toBeGreaterThanOrEqual(40);
        expect(t).toBeLessThanOrEqual(150);
      }
      expect(new Set(ttls).size).toBeGreaterThan(1);
    });

    it('caches GET only', async () => {
      const app = menuApp();
      await request(app).post('/api/menu').expect(200);
      const second = await request(app).post('/api/menu').expect(200);
      expect(second.headers['x-cache']).toBeUndefined();
      expect(calls).toBe(2);
    });

    it('never caches errors, Set-Cookie responses or Cache-Control: no-store', async () => {
      const app = appWith((a) => {
        const mw = cacheResponse(redis, { ttl: 60 });
        a.get('/missing', mw, (_req, res) => {
          calls++;
          res.status(404).json({ error: 'nope' });
        });
        a.get('/cookie', mw, (_req, res) => {
          calls++;
          res.cookie('session', 'abc').json({ ok: true });
        });
        a.get('/private', mw, (_req, res) => {
          calls++;
          res.set('Cache-Control', 'private, max-age=60').json({ ok: true });
        });
      });
      for (const path of ['/missing', '/cookie', '/private']) {
        await request(app).get(path);
        const again = await request(app).get(path);
        expect(again.headers['x-cache']).toBe('MISS');
      }
      expect(calls).toBe(6);
      expect(await redis.cache.get('http:GET:/missing')).toBeNull();
    });

    it('text and binary bodies come back byte for byte', async () => {
      const bytes = Buffer.from([0, 255, 1, 254, 10, 13]);
      const app = appWith((a) => {
        const mw = cacheResponse(redis, { ttl: 60 });
        a.get('/text', mw, (_req, res) => res.type('text/plain').send('plain ünïcode'));
        a.get('/bin', mw, (_req, res) => res.type('application/octet-stream').send(bytes));
      });
      await request(app).get('/text');
      const text = await request(app).get('/text').expect('X-Cache', 'HIT');
      expect(text.text).toBe('plain ünïcode');
      expect(text.headers['content-type']).toMatch(/^text\/plain/);
      await request(app).get('/bin');
      const bin = await request(app)
        .get('/bin')
        .buffer(true)
        .parse((res, done) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done(null, Buffer.concat(chunks)));
        })
        .expect('X-Cache', 'HIT');
      expect(Buffer.compare(bin.body as Buffer, bytes)).toBe(0);
    });

    it('a key function returning nothing fails the request with ERR_INVALID_ARGUMENT', async () => {
      const app = menuApp({ ttl: 60, key: () => '' });
      const res = await request(app).get('/api/menu').expect(500);
      expect(res.body).toEqual({ code: 'ERR_INVALID_ARGUMENT' });
      expect(calls).toBe(0);
    });
  });

  describe('rateLimit', () => {
    let redis: Client;

    beforeEach(async () => {
      redis = await open(backend.url(), uniquePrefix(`express-rl-${backend.name}`));
    });

    /** Two requests at once, then one per 30 min: the third in a row is denied, whatever the clock. */
    const limiter = (name = 'login') => redis.rateLimiter({ name, limit: 2, window: '1h', algorithm: 'token-bucket' });

    function loginApp(mw: express.RequestHandler, trustProxy = false): express.Express {
      return appWith((app) => {
        if (trustProxy) app.set('trust proxy', true);
        app.post('/login', mw, (_req, res) => res.json({ ok: true }));
      });
    }

    it('429 with Retry-After and the IETF draft headers; never the raw key', async () => {
      const app = loginApp(rateLimit(limiter()));
      const first = await request(app).post('/login').expect(200);
      expect(first.headers['ratelimit-policy']).toBe('"login";q=2;w=3600');
      expect(first.headers.ratelimit).toMatch(/^"login";r=1;t=\d+$/);
      await request(app).post('/login').expect(200);
      const denied = await request(app).post('/login').expect(429);
      expect(denied.body).toEqual({ statusCode: 429, message: 'Too Many Requests' });
      expect(denied.headers['ratelimit']).toMatch(/^"login";r=0;t=\d+$/);
      const retryAfter = Number(denied.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      // One token comes back every 1800 s.
      expect(retryAfter).toBeGreaterThan(1700);
      expect(retryAfter).toBeLessThanOrEqual(1800);
      const headers = JSON.stringify(denied.headers);
      expect(headers).not.toMatch(/127\.0\.0\.1/);
    });

    it("headers: 'legacy' sends the X-RateLimit trio; false sends none (Retry-After stays)", async () => {
      const legacy = loginApp(rateLimit(limiter('legacy'), { headers: 'legacy' }));
      const ok = await request(legacy).post('/login').expect(200);
      expect(ok.headers['x-ratelimit-limit']).toBe('2');
      expect(ok.headers['x-ratelimit-remaining']).toBe('1');
      expect(Number(ok.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
      expect(ok.headers['ratelimit']).toBeUndefined();

      const none = loginApp(rateLimit(limiter('none'), { headers: false }));
      await request(none).post('/login').expect(200);
      await request(none).post('/login').expect(200);
      const denied = await request(none).post('/login').expect(429);
      expect(denied.headers['ratelimit']).toBeUndefined();
      expect(denied.headers['x-ratelimit-limit']).toBeUndefined();
      expect(denied.headers['retry-after']).toBeDefined();
    });

    it("honours trust proxy: each X-Forwarded-For client has its own budget", async () => {
      const app = loginApp(rateLimit(limiter()), true);
      for (let i = 0; i < 2; i++) await request(app).post('/login').set('X-Forwarded-For', '203.0.113.1').expect(200);
      await request(app).post('/login').set('X-Forwarded-For', '203.0.113.1').expect(429);
      await request(app).post('/login').set('X-Forwarded-For', '203.0.113.2').expect(200);
    });

    it('key, skip and handler', async () => {
      const app = loginApp(
        rateLimit(limiter(), {
          key: (req) => String(req.query.user),
          skip: (req) => req.query.admin === '1',
          handler: (_req, res, _next, result) => res.status(503).json({ wait: result.retryAfterMs > 0 }),
        }),
      );
      for (let i = 0; i < 2; i++) await request(app).post('/login?user=ann').expect(200);
      expect((await request(app).post('/login?user=ann').expect(503)).body).toEqual({ wait: true });
      await request(app).post('/login?user=bob').expect(200);
      const skipped = await request(app).post('/login?user=ann&admin=1').expect(200);
      expect(skipped.headers['ratelimit']).toBeUndefined();
    });

    it('a key function returning nothing fails the request with ERR_INVALID_ARGUMENT', async () => {
      const app = loginApp(rateLimit(limiter(), { key: () => '' }));
      expect((await request(app).post('/login').expect(500)).body).toEqual({ code: 'ERR_INVALID_ARGUMENT' });
    });
  });

  describe('rejectRevokedTokens', () => {
    it('401 for a revoked jti and for tokens of a user revoked as a whole; others pass', async () => {
      const redis = await open(backend.url(), uniquePrefix(`express-jwt-${backend.name}`));
      const blacklist = redis.tokenBlacklist();
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const app = appWith((a) => {
        // Stands in for the app's own JWT verification.
        a.use((req, _res, next) => {
          const raw = req.get('X-Test-Claims');
          if (raw !== undefined) (req as unknown as { user: unknown }).user = JSON.parse(raw);
          next();
        });
        a.get('/me', rejectRevokedTokens(blacklist), (_req, res) => res.json({ ok: true }));
      });
      const claims = (c: object) => JSON.stringify(c);
      await request(app).get('/me').set('X-Test-Claims', claims({ jti: 'a', sub: 'u1', iat: 1 })).expect(200);
      await request(app).get('/me').expect(200); // no verified token: not this middleware's call

      await blacklist.revoke({ jti: 'a', exp });
      const revoked = await request(app).get('/me').set('X-Test-Claims', claims({ jti: 'a', sub: 'u1', iat: 1 })).expect(401);
      expect(revoked.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Token revoked' });
      expect(revoked.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);

      await request(app).get('/me').set('X-Test-Claims', claims({ jti: 'b', sub: 7, iat: 1 })).expect(200);
      await blacklist.revokeAllForUser('7');
      await request(app).get('/me').set('X-Test-Claims', claims({ jti: 'b', sub: 7, iat: 1 })).expect(401);
    });

    it('a claims function; claims without a jti fail the request with ERR_INVALID_ARGUMENT', async () => {
      const redis = await open(backend.url(), uniquePrefix(`express-jwt-${backend.name}`));
      const blacklist = redis.tokenBlacklist({ prefix: 'revoked' });
      await blacklist.revoke({ jti: 'x', exp: Math.floor(Date.now() / 1000) + 60 });
      const app = appWith((a) => {
        a.get('/', rejectRevokedTokens(blacklist, { claims: (req) => (req.query.jti === undefined ? null : { jti: String(req.query.jti) }) }), (_req, res) =>
          res.json({ ok: true }),
        );
        a.get('/nojti', rejectRevokedTokens(blacklist, { claims: () => ({ sub: 'u' }) as never }), (_req, res) => res.json({ ok: true }));
      });
      await request(app).get('/?jti=x').expect(401);
      await request(app).get('/?jti=y').expect(200);
      await request(app).get('/').expect(200);
      expect((await request(app).get('/nojti').expect(500)).body).toEqual({ code: 'ERR_INVALID_ARGUMENT' });
    });
  });

  describe('healthHandler', () => {
    it('200 with { status, redis, latencyMs, timestamp }; 503 once the client is closed', async () => {
      const redis = await createClient({ url: backend.url(), ...relaxed });
      const app = appWith((a) => a.get('/health', healthHandler(redis)));
      const ok = await request(app).get('/health').expect(200);
      expect(ok.body).toEqual({ status: expect.stringMatching(/^(healthy|degraded)$/), redis: 'up', latencyMs: expect.any(Number), timestamp: expect.any(String) });
      expect(ok.headers['cache-control']).toBe('no-store');
      await redis.close();
      const down = await request(app).get('/health').expect(503);
      expect(down.body).toMatchObject({ status: 'unhealthy', redis: 'down', latencyMs: null });
    });
  });
});

describe('ferrocache/express with Redis down', () => {
  it('healthHandler answers 503 once the Redis server stops', async () => {
    const server = await startRedis();
    try {
      const redis = await open(server.url, uniquePrefix('express-health'), { connectTimeoutMs: 500, commandTimeoutMs: 1000 });
      const app = appWith((a) => a.get('/health', healthHandler(redis)));
      await request(app).get('/health').expect(200);
      await server.stop();
      const down = await waitFor(async () => {
        const res = await request(app).get('/health');
        return res.status === 503 ? res : undefined;
      });
      expect(down!.body).toMatchObject({ status: 'unhealthy', redis: 'down' });
    } finally {
      await server.stop();
    }
  });

  it('cacheResponse falls back to the handler when Redis is unreachable', async () => {
    const redis = await open(`redis://127.0.0.1:${await freePort()}`, uniquePrefix('express-down'), { connectTimeoutMs: 200, commandTimeoutMs: 500 });
    let calls = 0;
    const app = appWith((a) =>
      a.get('/menu', cacheResponse(redis, { ttl: 60 }), (_req, res) => {
        calls++;
        res.json({ n: calls });
      }),
    );
    expect((await request(app).get('/menu').expect(200)).body).toEqual({ n: 1 });
    const again = await request(app).get('/menu').expect(200);
    expect(again.body).toEqual({ n: 2 });
    expect(again.headers['x-cache']).toBe('MISS');
  });
});

describe('ferrocache/express argument checks', () => {
  it('bad options throw ERR_INVALID_ARGUMENT when the middleware is built', async () => {
    const redis = await open('memory://', uniquePrefix('express-args'));
    const limiter = redis.rateLimiter({ name: 'x', limit: 1, window: 60 });
    const bad: (() => unknown)[] = [
      () => cacheResponse(redis, {} as never),
      () => cacheResponse(redis, { ttl: -1 }),
      () => cacheResponse(redis, { ttl: 60, key: '' }),
      () => cacheResponse(redis, { ttl: 60, jitter: 1 }),
      () => cacheResponse(redis, { ttl: 60, vary: 'Accept' as never }),
      () => cacheResponse({} as never, { ttl: 60 }),
      () => rateLimit({} as never),
      () => rateLimit(limiter, { headers: 'ietf' as never }),
      () => rateLimit(limiter, { key: 'ip' as never }),
      () => rejectRevokedTokens(null as never),
      () => rejectRevokedTokens(redis.tokenBlacklist(), { claims: {} as never }),
      () => healthHandler(undefined as never),
    ];
    for (const fn of bad) {
      let thrown: unknown;
      try {
        fn();
      } catch (err) {
        thrown = err;
      }
      expectFerroError(thrown, 'ERR_INVALID_ARGUMENT');
    }
  });
});
