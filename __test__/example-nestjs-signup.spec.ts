/**
 * examples/nestjs-signup, the real Nest app through @nestjs/testing on Redis and on memory://:
 * the 3-step sign-up draft completed into a user, the rate-limited first step, the cached profile
 * evicted by an update, health; and `npm run demo:nest`'s command answering on memory://.
 */
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { Client } from '../index';
import { FERRO_CLIENT } from '../nestjs';
import { AppModule } from '../examples/nestjs-signup/src/app.module';
import { UsersStore } from '../examples/nestjs-signup/src/users.store';
import { BACKENDS } from './backends';
import { cleanupPrefixes, relaxed, testUrl, uniquePrefix } from './helpers';
import { runExample } from './run-example';

afterAll(async () => {
  await cleanupPrefixes(testUrl());
});

describe.each(BACKENDS)('the NestJS sign-up example on $name', (backend) => {
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let redis: Client;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forRoot({ url: backend.url(), keyPrefix: uniquePrefix(`signup-${backend.name}`), ...relaxed })],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    server = app.getHttpServer();
    redis = app.get<Client>(FERRO_CLIENT);
  });

  afterEach(async () => {
    await app.close();
  });

  /** Runs the three steps; returns the new user. */
  async function signUp(email: string): Promise<{ id: string; city: string }> {
    const start = await request(server).post('/signup').send({ email }).expect(201);
    const { draftId } = start.body;
    const profile = await request(server).put(`/signup/${draftId}/profile`).send({ name: 'Ada', city: 'London', version: start.body.version }).expect(200);
    const done = await request(server).post(`/signup/${draftId}/complete`).send({ plan: 'pro', version: profile.body.version }).expect(201);
    return done.body;
  }

  it('the draft lives in drafts("onboarding") through the three steps, then becomes a user', async () => {
    const start = await request(server).post('/signup').send({ email: 'ada@example.com' }).expect(201);
    const { draftId, version } = start.body;
    expect(version).toBe(1);

    const resumed = await request(server).get(`/signup/${draftId}`).expect(200);
    expect(resumed.body).toMatchObject({ id: draftId, version: 1, steps: { account: { email: 'ada@example.com' } } });
    expect(resumed.body.expiresInSeconds).toBeGreaterThan(0);
    // The same draft, read through the client's own API.
    expect(await redis.drafts('onboarding').get(draftId)).toMatchObject({ version: 1 });

    const profile = await request(server).put(`/signup/${draftId}/profile`).send({ name: 'Ada', city: 'London', version: 1 }).expect(200);
    expect(profile.body.version).toBe(2);
    // A stale version (another tab saved meanwhile) is refused, and nothing is written.
    await request(server).put(`/signup/${draftId}/profile`).send({ name: 'Eve', city: 'Oslo', version: 1 }).expect(409);
    await request(server).post(`/signup/${draftId}/complete`).send({ plan: 'gold', version: 2 }).expect(400);

    const done = await request(server).post(`/signup/${draftId}/complete`).send({ plan: 'pro', version: 2 }).expect(201);
    expect(done.body).toMatchObject({ email: 'ada@example.com', name: 'Ada', city: 'London', plan: 'pro', id: expect.any(String) });

    // Completed: the draft is gone, a replay finds nothing.
    await request(server).get(`/signup/${draftId}`).expect(404);
    expect(await redis.drafts('onboarding').get(draftId)).toBeNull();
    await request(server).post(`/signup/${draftId}/complete`).send({ plan: 'pro', version: 3 }).expect(404);
  });

  it('a later step without the earlier ones is refused; an unknown draft is 404', async () => {
    await request(server).put('/signup/nope/profile').send({ name: 'A', city: 'B', version: 1 }).expect(404);
    const start = await request(server).post('/signup').send({ email: 'b@example.com' }).expect(201);
    await request(server).post(`/signup/${start.body.draftId}/complete`).send({ plan: 'free', version: 1 }).expect(400);
  });

  it('the profile read is cached (@Cacheable) and an update evicts it (@CacheEvict)', async () => {
    const store = app.get(UsersStore);
    const user = await signUp('c@example.com');
    const first = await request(server).get(`/users/${user.id}/profile`).expect(200);
    await request(server).get(`/users/${user.id}/profile`).expect(200);
    expect(first.body.city).toBe('London');
    expect(store.reads).toBe(1);
    expect(await redis.cache.get(`profile:${user.id}`)).toMatchObject({ city: 'London' });

    await request(server).patch(`/users/${user.id}/profile`).send({ city: 'Paris' }).expect(200);
    const after = await request(server).get(`/users/${user.id}/profile`).expect(200);
    expect(after.body.city).toBe('Paris');
    expect(store.reads).toBe(2);
  });

  it('starting a sign-up is rate-limited: 5, then 429 with the headers', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await request(server).post('/signup').send({ email: `u${i}@example.com` }).expect(201);
      expect(res.headers['ratelimit-policy']).toBe('"signup";q=5;w=600');
    }
    const denied = await request(server).post('/signup').send({ email: 'u5@example.com' }).expect(429);
    expect(denied.headers.ratelimit).toMatch(/^"signup";r=0;t=\d+$/);
    expect(Number(denied.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('health', async () => {
    const res = await request(server).get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { redis: { status: 'up' } } });
  });
});

describe('npm run demo:nest (ts-node examples/nestjs-signup/src/main.ts)', () => {
  it('starts on memory://, prints what to curl, answers, and stops on SIGTERM', async () => {
    const tsNode = require.resolve('ts-node/dist/bin.js');
    const running = await runExample([tsNode, '-P', 'examples/nestjs-signup/tsconfig.json', 'examples/nestjs-signup/src/main.ts']);
    try {
      expect(running.output()).toMatch(/memory:\/\//);
      const start = await request(running.url).post('/signup').send({ email: 'demo@example.com' }).expect(201);
      await request(running.url).get(`/signup/${start.body.draftId}`).expect(200);
      await request(running.url).get('/health').expect(200);
    } finally {
      // Nest's shutdown hooks close the app (and FerroModule the client), then re-raise the signal.
      expect(await running.stop()).toBe('SIGTERM');
    }
  }, 120000);
});
