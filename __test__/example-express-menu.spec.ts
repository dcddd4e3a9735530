/**
 * examples/express-menu, the real app through supertest on Redis and on memory://: the cached
 * menu and its invalidation by writes, the rate-limited login, logout revoking the token, health;
 * and `node examples/express-menu/server.js` (what `npm run demo` starts) answering on memory://.
 */
import type { Express } from 'express';
import request from 'supertest';
import { createClient } from '../index';
import type { Client } from '../index';
import { BACKENDS } from './backends';
import { cleanupPrefixes, relaxed, testUrl, uniquePrefix } from './helpers';
import { runExample } from './run-example';

interface Db {
  reads: number;
}
// Plain JS, as users run it.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createApp } = require('../examples/express-menu/app') as { createApp: (deps: { redis: Client; db: Db; secret: string }) => Express };
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createDb } = require('../examples/express-menu/db') as { createDb: () => Db };

afterAll(async () => {
  await cleanupPrefixes(testUrl());
});

describe.each(BACKENDS)('the Express menu example on $name', (backend) => {
  let redis: Client;
  let db: Db;
  let app: Express;

  beforeEach(async () => {
    redis = await createClient({ url: backend.url(), keyPrefix: uniquePrefix(`menu-${backend.name}`), ...relaxed });
    db = createDb();
    app = createApp({ redis, db, secret: 'test-secret' });
  });

  afterEach(async () => {
    await redis.close();
  });

  async function login(): Promise<string> {
    const res = await request(app).post('/api/login').send({ username: 'chef', password: 'secret' }).expect(200);
    return res.body.token as string;
  }

  it('serves the menu from the cache (menu:full) until a write invalidates menu:*', async () => {
    const first = await request(app).get('/api/menu').expect(200).expect('X-Cache', 'MISS');
    const second = await request(app).get('/api/menu').expect(200).expect('X-Cache', 'HIT');
    expect(second.body).toEqual(first.body);
    expect(db.reads).toBe(1);
    expect(await redis.cache.get('menu:full')).not.toBeNull();

    const auth = `Bearer ${await login()}`;
    const added = await request(app).post('/api/dishes').set('Authorization', auth).send({ name: 'Gnocchi', price: 11, section: 'pasta' }).expect(201);
    const fresh = await request(app).get('/api/menu').expect('X-Cache', 'MISS');
    expect(fresh.body.sections.pasta.map((d: { name: string }) => d.name)).toContain('Gnocchi');

    await request(app).get('/api/menu').expect('X-Cache', 'HIT');
    await request(app).put(`/api/dishes/${added.body.id}`).set('Authorization', auth).send({ price: 12.5 }).expect(200);
    const updated = await request(app).get('/api/menu').expect('X-Cache', 'MISS');
    expect(updated.body.sections.pasta.find((d: { name: string }) => d.name === 'Gnocchi').price).toBe(12.5);

    await request(app).delete(`/api/dishes/${added.body.id}`).set('Authorization', auth).expect(204);
    const after = await request(app).get('/api/menu').expect('X-Cache', 'MISS');
    expect(after.body.sections.pasta.map((d: { name: string }) => d.name)).not.toContain('Gnocchi');
    expect(db.reads).toBe(4);
  });

  it('writes need a token', async () => {
    await request(app).post('/api/dishes').send({ name: 'x', price: 1, section: 'y' }).expect(401);
    await request(app).get('/api/menu').expect('X-Cache', 'MISS');
    await request(app).get('/api/menu').expect('X-Cache', 'HIT');
  });

  it('login: 5 attempts, then 429 with Retry-After and the RateLimit headers', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await request(app).post('/api/login').send({ username: 'chef', password: 'wrong' }).expect(401);
      expect(res.headers['ratelimit-policy']).toBe('"login";q=5;w=900');
      expect(res.headers.ratelimit).toMatch(new RegExp(`^"login";r=${4 - i};t=\\d+$`));
    }
    const denied = await request(app).post('/api/login').send({ username: 'chef', password: 'secret' }).expect(429);
    expect(Number(denied.headers['retry-after'])).toBeGreaterThan(0);
    expect(denied.body.token).toBeUndefined();
  });

  it('logout revokes the token: 401 from then on', async () => {
    const auth = `Bearer ${await login()}`;
    expect((await request(app).get('/api/me').set('Authorization', auth).expect(200)).body).toEqual({ id: 'u1', name: 'chef' });
    await request(app).post('/api/logout').set('Authorization', auth).expect(204);
    const res = await request(app).get('/api/me').set('Authorization', auth).expect(401);
    expect(res.body.message).toBe('Token revoked');
    await request(app).post('/api/dishes').set('Authorization', auth).send({ name: 'x', price: 1, section: 'y' }).expect(401);
    // A new sign-in gets a new token.
    await request(app).get('/api/me').set('Authorization', `Bearer ${await login()}`).expect(200);
  });

  it('health', async () => {
    const res = await request(app).get('/api/health').expect(200);
    expect(res.body).toMatchObject({ redis: 'up' });
  });
});

describe('node examples/express-menu/server.js', () => {
  it('starts on memory://, prints what to curl, answers, and stops on SIGTERM', async () => {
    const running = await runExample(['examples/express-menu/server.js']);
    try {
      expect(running.output()).toMatch(/memory:\/\//);
      expect(running.output()).toMatch(/curl -i http:\/\/localhost:\d+\/api\/menu/);
      await request(running.url).get('/api/menu').expect(200).expect('X-Cache', 'MISS');
      await request(running.url).get('/api/menu').expect(200).expect('X-Cache', 'HIT');
      await request(running.url).get('/api/health').expect(200);
    } finally {
      expect(await running.stop()).toBe('exit 0');
    }
  });
});
