/**
 * Compiled (never run) by types.spec.ts with `tsc --noEmit --strict`: every export of
 * `ferrocache/express` and `ferrocache/nestjs` used the way an application would.
 * `@ts-expect-error` lines pin what the types must refuse.
 */
import { Controller, Get, Injectable, Module, Param, UseGuards } from '@nestjs/common';
import express = require('express');
import { createClient, key } from '../../index';
import type { Client, RateLimitResult } from '../../index';
import { cacheResponse, healthHandler, rateLimit, rejectRevokedTokens } from '../../express';
import type { CacheResponseOptions, HealthResponse, RateLimitMiddlewareOptions, RejectRevokedTokensOptions, TokenClaims } from '../../express';
import {
  Cacheable,
  CacheEvict,
  CachePut,
  FERRO_CLIENT,
  FerroHealthIndicator,
  FerroModule,
  InjectFerro,
  RateLimit,
  RateLimitGuard,
  RejectRevokedTokens,
  RevokedTokenGuard,
} from '../../nestjs';
import type {
  CacheableOptions,
  CacheEvictOptions,
  CachePutOptions,
  FerroHealthIndicatorResult,
  FerroModuleAsyncOptions,
  FromArgs,
  RateLimitDecoratorOptions,
  RejectRevokedTokensOptions as NestRevokedOptions,
} from '../../nestjs';

// --- ferrocache/express ----------------------------------------------------------------------

export async function expressApp(): Promise<express.Express> {
  const redis: Client = await createClient({ url: process.env.REDIS_URL, keyPrefix: 'menu-api:' });
  const app = express();
  app.set('trust proxy', 1);

  const cacheOpts: CacheResponseOptions = { ttl: '5m', key: 'menu:full', tags: ['menu'], vary: ['Accept-Language'], jitter: 0.1 };
  app.get('/api/menu', cacheResponse(redis, cacheOpts), (_req, res) => {
    res.json({ dishes: [] });
  });
  app.get('/api/dishes/:id', cacheResponse(redis, { ttl: 60, key: (req) => key('dish', String(req.params.id)), tags: (req) => [`dish:${String(req.params.id)}`] }), (_req, res) => {
    res.json({});
  });
  // @ts-expect-error ttl is required
  cacheResponse(redis, { key: 'menu:full' });

  const limiter = redis.rateLimiter({ name: 'login', limit: 5, window: '1m' });
  const rlOpts: RateLimitMiddlewareOptions = {
    key: (req) => `${req.ip}:${String(req.body?.username)}`,
    headers: 'legacy',
    skip: async (req) => req.get('X-Internal') === '1',
    handler: (_req, res, _next, result: RateLimitResult) => res.status(429).json({ retryInMs: result.retryAfterMs }),
  };
  app.post('/api/login', rateLimit(limiter, rlOpts), (_req, res) => {
    res.json({});
  });
  app.post('/api/other', rateLimit(limiter), (_req, res) => {
    res.json({});
  });
  // @ts-expect-error headers is 'draft' | 'legacy' | false
  rateLimit(limiter, { headers: true });

  const blacklist = redis.tokenBlacklist({ onRedisError: 'deny' });
  const claims = (req: express.Request): TokenClaims | null => {
    const user = (req as express.Request & { user?: { jti: string; sub: number; iat: number } }).user;
    return user === undefined ? null : { jti: user.jti, sub: user.sub, iat: user.iat };
  };
  const revokedOpts: RejectRevokedTokensOptions = { claims };
  app.use('/api/account', rejectRevokedTokens(blacklist), rejectRevokedTokens(blacklist, revokedOpts));

  app.get('/api/health', healthHandler(redis));
  const body: HealthResponse = { status: 'healthy', redis: 'up', latencyMs: 0.4, timestamp: new Date().toISOString() };
  void body;
  return app;
}

// --- ferrocache/nestjs -----------------------------------------------------------------------

interface Profile {
  id: string;
  city: string;
}

const profileKey: FromArgs<string> = (id: string) => key('profile', id);
const cacheable: CacheableOptions = { key: profileKey, ttl: '10m', tags: (id: string) => [`user:${id}`], jitter: 0.1, grace: '1h', graceBackoff: '5s', timeout: 0, hardTimeout: '2s', onLoaderError: (err: unknown, k: string) => void [err, k] };
const evict: CacheEvictOptions = { keys: (id: string) => [key('profile', id)], pattern: 'profiles:*', tags: ['profiles'] };
const put: CachePutOptions = { key: profileKey, ttl: 60, jitter: 0.1, grace: '1h' };

@Injectable()
export class ProfileService {
  constructor(@InjectFerro() private readonly redis: Client) {}

  @Cacheable(cacheable)
  async get(id: string): Promise<Profile> {
    return { id, city: (await this.redis.get<string>(key('city', id))) ?? 'unknown' };
  }

  @CacheEvict(evict)
  async update(id: string, city: string): Promise<Profile> {
    return { id, city };
  }

  @CachePut(put)
  async refresh(id: string): Promise<Profile> {
    return { id, city: 'fresh' };
  }
}

const limits: RateLimitDecoratorOptions = { limit: 5, window: '1m', algorithm: 'sliding-window', key: (req: { ip: string }) => req.ip, headers: 'draft' };
const revoked: NestRevokedOptions = { prefix: 'jwt', onRedisError: 'deny', claims: (req: { user?: { jti: string } }) => req.user };

@Controller('profiles')
@RateLimit({ limit: 100, window: '1m' })
@RejectRevokedTokens()
export class ProfileController {
  constructor(
    private readonly profiles: ProfileService,
    private readonly health: FerroHealthIndicator,
  ) {}

  @Get(':id')
  @RateLimit(limits)
  @RejectRevokedTokens(revoked)
  get(@Param('id') id: string): Promise<Profile> {
    return this.profiles.get(id);
  }

  @Get('health')
  @UseGuards(RateLimitGuard, RevokedTokenGuard)
  async check(): Promise<FerroHealthIndicatorResult> {
    return this.health.isHealthy('redis');
  }
}

@Injectable()
export class ByToken {
  constructor(@InjectFerro() readonly a: Client) {}
}
export const token: 'FERRO_CLIENT' = FERRO_CLIENT;

const asyncOptions: FerroModuleAsyncOptions = {
  imports: [],
  inject: [],
  useFactory: async () => ({ url: process.env.REDIS_URL, keyPrefix: 'app:' }),
};

@Module({
  imports: [FerroModule.forRoot({ url: 'memory://', keyPrefix: 'app:' }), FerroModule.forRootAsync(asyncOptions), FerroModule.forRoot('redis://127.0.0.1:6379')],
  controllers: [ProfileController],
  providers: [ProfileService, FerroHealthIndicator, ByToken],
})
export class AppModule {}

// @ts-expect-error key is required
Cacheable({ ttl: 60 });
// @ts-expect-error limit and window are required
RateLimit({ limit: 5 });
// @ts-expect-error useFactory is required
FerroModule.forRootAsync({ inject: [] });
