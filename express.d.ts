/// <reference types="node" />
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { CachePolicy, Client, Duration, RateLimiter, RateLimitResult, TokenBlacklist } from './index'

/** `jitter` as in {@link CachePolicy}. */
export interface CacheResponseOptions extends Pick<CachePolicy, 'jitter'> {
  /** Redis TTL of a cached response. */
  ttl: Duration
  /**
   * The cache key (`client.keyPrefix` applies), or a function of the request returning one.
   * Default: `http:GET:<originalUrl>`, built with `key()`, so a glob such as `*menu*` reaches it.
   */
  key?: string | ((req: Request) => string)
  /** Tags for `cache.invalidateTags`, or a function of the request returning them. */
  tags?: string[] | ((req: Request) => string[])
  /** Request headers whose values are part of the key (and listed in the `Vary` response header). */
  vary?: string[]
}

/**
 * Caches successful (2xx) GET responses sent with `res.send` / `res.json`: status, body and
 * content type. Sets `X-Cache: HIT | MISS`. Never caches errors, responses with `Set-Cookie`, or
 * `Cache-Control: no-store | private`. When Redis fails, the handler answers.
 */
export declare function cacheResponse(client: Client, opts: CacheResponseOptions): RequestHandler

export interface RateLimitMiddlewareOptions {
  /** The id a request counts against. Default: `req.ip` (which honours Express' `trust proxy`). */
  key?: (req: Request) => string
  /**
   * `'draft'` (default): `RateLimit-Policy: "<name>";q=<limit>;w=<window s>` and
   * `RateLimit: "<name>";r=<remaining>;t=<s to reset>`; `'legacy'`: `X-RateLimit-Limit`,
   * `-Remaining`, `-Reset` (s to reset); `false`: none. `Retry-After` is always sent on a denial.
   */
  headers?: 'draft' | 'legacy' | false
  /** Requests for which it resolves true are neither counted nor limited. */
  skip?: (req: Request) => boolean | Promise<boolean>
  /** Answers a denied request instead of the default 429 `{ statusCode, message }` JSON. */
  handler?: (req: Request, res: Response, next: NextFunction, result: RateLimitResult) => unknown
}

/** One `limiter.consume(id)` per request; 429 with `Retry-After` when denied. */
export declare function rateLimit(limiter: RateLimiter, opts?: RateLimitMiddlewareOptions): RequestHandler

/** The claims of a verified JWT that the blacklist reads. */
export interface TokenClaims {
  jti: string
  sub?: string | number
  /** Issued at, seconds since the epoch. */
  iat?: number
}

export interface RejectRevokedTokensOptions {
  /**
   * The verified claims of the request, or null/undefined when it carries none (it then passes).
   * Default: `req.user` (Passport), else `req.auth` (express-jwt).
   */
  claims?: (req: Request) => TokenClaims | null | undefined
}

/**
 * Goes after the app's own JWT verification: 401 (with `WWW-Authenticate`) for a revoked token.
 * When Redis fails, the blacklist's `onRedisError` decides (default: revoked).
 */
export declare function rejectRevokedTokens(blacklist: TokenBlacklist, opts?: RejectRevokedTokensOptions): RequestHandler

/** The body of `healthHandler`'s answer. */
export interface HealthResponse {
  status: 'healthy' | 'degraded' | 'unhealthy'
  redis: 'up' | 'down'
  latencyMs: number | null
  timestamp: string
}

/** `GET` handler: `HealthResponse`, 200 while the backend answers, 503 when it does not. */
export declare function healthHandler(client: Client): RequestHandler
