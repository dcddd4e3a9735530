import type { CanActivate, DynamicModule, ExecutionContext, InjectionToken, ModuleMetadata, OnApplicationShutdown, OptionalFactoryDependency } from '@nestjs/common'
import type { Reflector } from '@nestjs/core'
import type { CachePolicy, Client, ClientOptions, Duration, RateLimitAlgorithm, TokenBlacklistOptions } from './index'

/** The injection token of the client. */
export declare const FERRO_CLIENT: 'FERRO_CLIENT'

/** `@InjectFerro() private readonly redis: Client` — the same as `@Inject(FERRO_CLIENT)`. */
export declare function InjectFerro(): PropertyDecorator & ParameterDecorator

export interface FerroModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Client options or a URL, e.g. from a ConfigService. */
  useFactory: (...deps: any[]) => ClientOptions | string | undefined | Promise<ClientOptions | string | undefined>
  inject?: (InjectionToken | OptionalFactoryDependency)[]
}

/** Global: import it once, in the root module. Closes the client on application shutdown. */
export declare class FerroModule implements OnApplicationShutdown {
  constructor(client: Client)
  /** `createClient(options)`. */
  static forRoot(options?: ClientOptions | string): DynamicModule
  static forRootAsync(options: FerroModuleAsyncOptions): DynamicModule
  onApplicationShutdown(): Promise<void>
}

/** A value, or a function of the decorated method's arguments. */
export type FromArgs<T> = T | ((...args: any[]) => T)

/**
 * The method's result is cached as by `cache.getOrSet`, under the same {@link CachePolicy}: with
 * `grace`, a stale result is served when the method throws or overruns `timeout`, and
 * `onLoaderError` receives the method's errors no caller gets.
 */
export interface CacheableOptions extends CachePolicy {
  key: FromArgs<string>
  /** Default: the client's `defaultTtl`. */
  ttl?: Duration
  tags?: FromArgs<string[]>
}

/**
 * Serves the method's result from the cache (`cache.getOrSet`: concurrent calls with one key
 * share one method call). The method becomes async. A key function returning no string, or an
 * instance without the client (no FerroModule, or made with `new`), rejects with a FerroError.
 */
export declare function Cacheable(options: CacheableOptions): MethodDecorator

/** How the stored result is written: `jitter` and `grace` as in {@link CachePolicy}. */
export interface CachePutOptions extends Pick<CachePolicy, 'jitter' | 'grace'> {
  key: FromArgs<string>
  ttl?: Duration
  tags?: FromArgs<string[]>
}

/** Runs the method, then stores its result under `key`. */
export declare function CachePut(options: CachePutOptions): MethodDecorator

/** At least one of the three. */
export interface CacheEvictOptions {
  keys?: FromArgs<string | string[]>
  /** A glob for `cache.invalidate`. */
  pattern?: FromArgs<string>
  tags?: FromArgs<string[]>
}

/**
 * Runs the method, then deletes `keys` and invalidates `pattern` and `tags`. Nothing is evicted
 * when the method throws; Redis being unreachable (ERR_UNAVAILABLE, ERR_TIMEOUT) afterwards
 * does not fail the call.
 */
export declare function CacheEvict(options: CacheEvictOptions): MethodDecorator

export interface RateLimitDecoratorOptions {
  limit: number
  window: Duration
  /** Default `'fixed-window'`. */
  algorithm?: RateLimitAlgorithm
  burst?: number
  onRedisError?: 'allow' | 'deny' | 'local'
  /** The limiter's name (key namespace, shown in the headers). Default `<Controller>.<method>`. */
  name?: string
  /** The id a request counts against. Default: `req.ip`. */
  key?: (req: any) => string
  /** As in `ferrocache/express`'s `rateLimit`. Default `'draft'`. */
  headers?: 'draft' | 'legacy' | false
}

/**
 * On a controller method or class (HTTP only): applies RateLimitGuard, which sets the rate-limit
 * headers and throws `HttpException(429)` with `Retry-After` when the limit is reached.
 */
export declare function RateLimit(options: RateLimitDecoratorOptions): ClassDecorator & MethodDecorator

export declare class RateLimitGuard implements CanActivate {
  constructor(client: Client, reflector: Reflector)
  canActivate(context: ExecutionContext): Promise<boolean>
}

export interface RejectRevokedTokensOptions extends TokenBlacklistOptions {
  /**
   * The verified claims of the request, or null/undefined when it carries none (it then passes).
   * Default: `req.user`, else `req.auth`.
   */
  claims?: (req: any) => { jti: string; sub?: string | number; iat?: number } | null | undefined
}

/** On a controller method or class, after the app's JWT guard: 401 for a revoked token. */
export declare function RejectRevokedTokens(options?: RejectRevokedTokensOptions): ClassDecorator & MethodDecorator

/** The guard behind @RejectRevokedTokens; usable alone (default options), e.g. as APP_GUARD. */
export declare class RevokedTokenGuard implements CanActivate {
  constructor(client: Client, reflector: Reflector)
  canActivate(context: ExecutionContext): Promise<boolean>
}

/** The shape @nestjs/terminus reads from a health indicator. */
export type FerroHealthIndicatorResult = Record<
  string,
  { status: 'up' | 'down'; health: 'healthy' | 'degraded' | 'unhealthy'; latencyMs: number | null }
>

/** For @nestjs/terminus 11+: `() => this.ferro.isHealthy('redis')` in `HealthCheckService.check`. */
export declare class FerroHealthIndicator {
  constructor(client: Client)
  isHealthy(key?: string): Promise<FerroHealthIndicatorResult>
}
