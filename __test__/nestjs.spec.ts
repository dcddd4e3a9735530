/**
 * ferrocache/nestjs through @nestjs/testing against real Nest apps, on Redis and on memory://:
 * FerroModule (injection, forRootAsync, closing on shutdown), @Cacheable / @CacheEvict /
 * @CachePut on a plain provider (load once, evict and re-load), @RateLimit (429 and headers),
 * @RejectRevokedTokens (401), the terminus indicator (200, and 503 with Redis stopped), and
 * misconfiguration failing loudly.
 */
import { Controller, Get, Inject, Injectable, INestApplication, Module, Param } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { key } from '../index';
import type { Client, ClientOptions } from '../index';
import {
  Cacheable,
  CacheEvict,
  CachePut,
  FERRO_CLIENT,
  FerroHealthIndicator,
  FerroModule,
  InjectFerro,
  RateLimit,
  RejectRevokedTokens,
} from '../nestjs';
import { BACKENDS } from './backends';
import { cleanupPrefixes, expectFerroError, expectRejectsWith, relaxed, startRedis, testUrl, uniquePrefix, waitFor } from './helpers';

const profileKey = (id: string) => key('profile', id);
/** What the `onLoaderError` of ProfileService.graced received (a decorator option is static). */
const graceErrorsSeen: unknown[] = [];

@Injectable()
class ProfileService {
  loads = 0;

  @Cacheable({ key: profileKey, ttl: 60, tags: (id: string) => [`user:${id}`] })
  async get(id: string): Promise<{ id: string; load: number }> {
    this.loads++;
    await new Promise((resolve) => setImmediate(resolve));
    return { id, load: this.loads };
  }

  @CacheEvict({ keys: profileKey })
  async update(id: string): Promise<string> {
    return `updated ${id}`;
  }

  @CacheEvict({ pattern: 'profile:*' })
  async clearAll(): Promise<void> {}

  @CacheEvict({ tags: (id: string) => [`user:${id}`] })
  async forget(_id: string): Promise<void> {}

  @Cacheable({ key: (i: number) => `jittered:${i}`, ttl: 100, jitter: 0.5 })
  async jittered(i: number): Promise<number> {
    return i;
  }

  graceLoads = 0;

  /** Fresh for 200 ms, then stale for a minute; the method fails from its second call on. */
  @Cacheable({ key: (id: string) => `graced:${id}`, ttl: '200ms', grace: '60s', graceBackoff: '60s', onLoaderError: (err) => graceErrorsSeen.push(err) })
  async graced(id: string): Promise<string> {
    this.graceLoads++;
    if (this.graceLoads > 1) throw new Error('db down');
    return `v${id}`;
  }

  @CachePut({ key: profileKey, ttl: 60 })
  async put(id: string, load: number): Promise<{ id: string; load: number }> {
    return { id, load };
  }

  @CacheEvict({ keys: profileKey })
  async failingUpdate(_id: string): Promise<void> {
    throw new Error('db down');
  }

  @Cacheable({ key: () => undefined as unknown as string })
  async noKey(): Promise<number> {
    return 1;
  }
}

@Injectable()
class Holder {
  constructor(
    @InjectFerro() readonly client: Client,
    @Inject(FERRO_CLIENT) readonly same: Client,
  ) {}
}

@Controller('limited')
@RateLimit({ limit: 2, window: '1h', algorithm: 'token-bucket' })
class LimitedController {
  @Get('a')
  a(): { ok: true } {
    return { ok: true };
  }

  @Get('b')
  @RateLimit({ name: 'b-limit', limit: 1, window: '1h', algorithm: 'token-bucket', headers: 'legacy' })
  b(): { ok: true } {
    return { ok: true };
  }
}

@Controller()
class MiscController {
  constructor(
    private readonly profiles: ProfileService,
    private readonly health: HealthCheckService,
    private readonly ferro: FerroHealthIndicator,
  ) {}

  @Get('me')
  @RejectRevokedTokens()
  me(): { ok: true } {
    return { ok: true };
  }

  @Get('profiles/:id')
  profile(@Param('id') id: string): Promise<{ id: string; load: number }> {
    return this.profiles.get(id);
  }

  // @Cacheable above @Get: the route metadata must survive the wrapping.
  @Cacheable({ key: 'controller:answer', ttl: 60 })
  @Get('answer')
  async answer(): Promise<{ answer: number }> {
    return { answer: 42 };
  }

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.ferro.isHealthy('redis')]);
  }
}

/** Sets `req.user` from an `X-Test-Claims` header: stands in for the app's JWT verification. */
function fakeAuth(req: Request, _res: Response, next: NextFunction): void {
  const raw = req.get('X-Test-Claims');
  if (raw !== undefined) (req as unknown as { user: unknown }).user = JSON.parse(raw);
  next();
}

async function startApp(ferro: ReturnType<typeof FerroModule.forRoot>): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [ferro, TerminusModule],
    controllers: [LimitedController, MiscController],
    providers: [ProfileService, Holder, FerroHealthIndicator],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.use(fakeAuth);
  await app.init();
  return app;
}

afterAll(async () => {
  await cleanupPrefixes(testUrl());
});

describe.each(BACKENDS)('ferrocache/nestjs on $name', (backend) => {
  let app: INestApplication;
  let client: Client;
  let profiles: ProfileService;

  beforeEach(async () => {
    app = await startApp(FerroModule.forRoot({ url: backend.url(), keyPrefix: uniquePrefix(`nest-${backend.name}`), ...relaxed }));
    client = app.get<Client>(FERRO_CLIENT);
    profiles = app.get(ProfileService);
  });

  afterEach(async () => {
    await app.close();
  });

  it('injects one client by token and by @InjectFerro(), and closes it on shutdown', async () => {
    const holder = app.get(Holder);
    expect(holder.client).toBe(client);
    expect(holder.same).toBe(client);
    await client.set('k', 1);
    expect(await holder.client.get('k')).toBe(1);
    await app.close();
    await expectRejectsWith(() => client.get('k'), 'ERR_CLOSED');
  });

  it('@Cacheable loads once, shares one load between concurrent calls, and stores under the key', async () => {
    expect(await profiles.get('1')).toEqual({ id: '1', load: 1 });
    expect(await profiles.get('1')).toEqual({ id: '1', load: 1 });
    const concurrent = await Promise.all([1, 2, 3, 4, 5].map(() => profiles.get('2')));
    expect(concurrent.every((p) => p.load === 2)).toBe(true);
    expect(profiles.loads).toBe(2);
    expect(await client.cache.get('profile:1')).toEqual({ id: '1', load: 1 });
  });

  it('@Cacheable passes jitter on: entries written together get TTLs spread within it', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => i);
    expect(await Promise.all(ids.map((i) => profiles.jittered(i)))).toEqual(ids);
    await client.cache.drained();
    const ttls = await Promise.all(ids.map((i) => client.ttl(`jittered:${i}`)));
    for (const t of ttls) {
      expect(t).toBeGreaterThanOrEqual(40);
      expect(t).toBeLessThanOrEqual(150);
    }
    expect(new Set(ttls).size).toBeGreaterThan(1);
  });

  it('@Cacheable passes grace on: a stale result is served when the method throws, the error reported', async () => {
    expect(await profiles.graced('1')).toBe('v1');
    expect(client.cache.peek('graced:1')).toBe('v1');
    await client.cache.drained();
    await waitFor(() => client.cache.peek('graced:1') === undefined, 10_000, 20, 'the entry is stale');
    const seen = graceErrorsSeen.length;
    expect(await profiles.graced('1')).toBe('v1');
    expect(profiles.graceLoads).toBe(2);
    expect(graceErrorsSeen.length - seen).toBe(1);
    expect(client.cache.stats().staleServed).toBeGreaterThan(0);
  });

  it('@CacheEvict by keys, pattern and tags: the next call re-loads', async () => {
    await profiles.get('1');
    expect(await profiles.update('1')).toBe('updated 1');
    expect((await profiles.get('1')).load).toBe(2);

    expect((await profiles.get('2')).load).toBe(3);
    await profiles.clearAll();
    expect((await profiles.get('1')).load).toBe(4);
    expect((await profiles.get('2')).load).toBe(5);

    await profiles.forget('2');
    expect((await profiles.get('2')).load).toBe(6);
    expect((await profiles.get('1')).load).toBe(4);
  });

  it('@CacheEvict evicts nothing when the method throws; @CachePut replaces the entry', async () => {
    await profiles.get('1');
    await expect(profiles.failingUpdate('1')).rejects.toThrow('db down');
    expect((await profiles.get('1')).load).toBe(1);
    expect(await profiles.put('1', 99)).toEqual({ id: '1', load: 99 });
    expect(await profiles.get('1')).toEqual({ id: '1', load: 99 });
    expect(profiles.loads).toBe(1);
  });

  it('decorated controller methods keep their routes and cache', async () => {
    const server = app.getHttpServer();
    expect((await request(server).get('/profiles/7').expect(200)).body).toEqual({ id: '7', load: 1 });
    expect((await request(server).get('/profiles/7').expect(200)).body).toEqual({ id: '7', load: 1 });
    expect((await request(server).get('/answer').expect(200)).body).toEqual({ answer: 42 });
    expect(await client.cache.get('controller:answer')).toEqual({ answer: 42 });
  });

  it('a key function returning nothing rejects with ERR_INVALID_ARGUMENT', async () => {
    const err = await expectRejectsWith(() => profiles.noKey(), 'ERR_INVALID_ARGUMENT');
    expect(err.message).toMatch(/@Cacheable on ProfileService\.noKey/);
  });

  it('@RateLimit on a class and a method: 429, Retry-After and the headers; one count per request', async () => {
    const server = app.getHttpServer();
    const first = await request(server).get('/limited/a').expect(200);
    expect(first.headers['ratelimit-policy']).toBe('"LimitedController.a";q=2;w=3600');
    expect(first.headers.ratelimit).toMatch(/^"LimitedController\.a";r=1;t=\d+$/);
    await request(server).get('/limited/a').expect(200);
    const denied = await request(server).get('/limited/a').expect(429);
    expect(denied.body).toEqual({ statusCode: 429, message: 'Too Many Requests' });
    expect(Number(denied.headers['retry-after'])).toBeGreaterThan(1700);

    // The method's options override the class's; the guard runs twice but counts once.
    const b = await request(server).get('/limited/b').expect(200);
    expect(b.headers['x-ratelimit-limit']).toBe('1');
    expect(b.headers['x-ratelimit-remaining']).toBe('0');
    expect(b.headers.ratelimit).toBeUndefined();
    await request(server).get('/limited/b').expect(429);
  });

  it('@RejectRevokedTokens: 401 for a revoked token, others pass', async () => {
    const server = app.getHttpServer();
    const token = JSON.stringify({ jti: 'j1', sub: 'u1', iat: Math.floor(Date.now() / 1000) });
    await request(server).get('/me').set('X-Test-Claims', token).expect(200);
    await request(server).get('/me').expect(200);
    await client.tokenBlacklist().revoke({ jti: 'j1', exp: Math.floor(Date.now() / 1000) + 60 });
    const res = await request(server).get('/me').set('X-Test-Claims', token).expect(401);
    expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Token revoked' });
    expect(res.headers['www-authenticate']).toMatch(/invalid_token/);
  });

  it('the terminus indicator reports up', async () => {
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.info.redis).toMatchObject({ status: 'up', latencyMs: expect.any(Number) });
  });
});

describe('FerroModule.forRootAsync', () => {
  it('builds the client from injected configuration', async () => {
    const keyPrefix = uniquePrefix('nest-async');

    @Injectable()
    class Config {
      readonly redis: ClientOptions = { url: testUrl(), keyPrefix, ...relaxed };
    }

    @Module({ providers: [Config], exports: [Config] })
    class ConfigModule {}

    const app = await startApp(FerroModule.forRootAsync({ imports: [ConfigModule], inject: [Config], useFactory: async (c: Config) => c.redis }));
    try {
      const client = app.get<Client>(FERRO_CLIENT);
      await app.get(ProfileService).get('1');
      expect(await client.cache.get('profile:1')).toEqual({ id: '1', load: 1 });
    } finally {
      await app.close();
    }
  });
});

describe('ferrocache/nestjs with Redis down', () => {
  it('the terminus indicator reports down (503) once the Redis server stops', async () => {
    const server = await startRedis();
    const app = await startApp(FerroModule.forRoot({ url: server.url, connectTimeoutMs: 500, commandTimeoutMs: 1000 }));
    try {
      await request(app.getHttpServer()).get('/health').expect(200);
      await server.stop();
      const res = await waitFor(async () => {
        const r = await request(app.getHttpServer()).get('/health');
        return r.status === 503 ? r : undefined;
      });
      expect(res!.body.error.redis).toMatchObject({ status: 'down', health: 'unhealthy' });
    } finally {
      await app.close();
      await server.stop();
    }
  });
});

describe('ferrocache/nestjs misconfiguration fails loudly', () => {
  it('a decorated method of an instance Nest did not create rejects with ERR_INVALID_ARGUMENT', async () => {
    const err = await expectRejectsWith(() => new ProfileService().get('1'), 'ERR_INVALID_ARGUMENT');
    expect(err.message).toMatch(/FerroModule/);
  });

  it('an app without FerroModule does not start', async () => {
    await expect(Test.createTestingModule({ providers: [ProfileService] }).compile()).rejects.toThrow(/FERRO_CLIENT/);
  });

  it('bad decorator options throw ERR_INVALID_ARGUMENT where the class is defined', () => {
    const bad: (() => unknown)[] = [
      () => Cacheable({} as never),
      () => Cacheable({ key: '' }),
      () => Cacheable({ key: 'k', ttl: 0 }),
      () => Cacheable({ key: 'k', jitter: 1 }),
      () => CachePut({ key: 'k', jitter: -0.1 }),
      () => Cacheable({ key: 'k', grace: -1 }),
      () => Cacheable({ key: 'k', timeout: '2s', hardTimeout: '1s' }),
      () => CachePut({ key: 'k', grace: 'soon' }),
      () => CacheEvict({}),
      () => CachePut({ ttl: 5 } as never),
      () => RateLimit({ limit: 0, window: 60 }),
      () => RateLimit({ limit: 1, window: 'soon' }),
      () => RateLimit({ limit: 1, window: 60, headers: 'x' as never }),
      () => RejectRevokedTokens({ claims: 'user' as never }),
      () => FerroModule.forRoot(42 as never),
      () => FerroModule.forRootAsync({} as never),
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
