'use strict'
// @RateLimit({ limit, window, ... }) on a controller method or class: metadata
// plus its own guard, which consumes one unit per request, sets the same
// headers as the Express middleware and throws the standard 429 HttpException.

const { applyDecorators, HttpException, HttpStatus, Inject, Injectable, SetMetadata, UseGuards } = require('@nestjs/common')
const { Reflector } = require('@nestjs/core')
const { invalid } = require('../errors')
const { checkKey, durationMs, describe } = require('../values')
const http = require('../http/ratelimit')
const { httpOf, setHeader } = require('./http-context')
const { FERRO_CLIENT } = require('./module')

const RATE_LIMIT = 'ferrocache:rate-limit'
const LIMITER_FIELDS = ['limit', 'window', 'algorithm', 'burst', 'onRedisError']

/**
 * The limiter's own options (`client.rateLimiter` checks them on first use, limit and window
 * here), plus `name` (default `<Controller>.<method>`: one limiter per route), `key` and `headers`.
 */
function RateLimit(opts) {
  if (opts === null || typeof opts !== 'object') throw invalid(`@RateLimit needs { limit, window }, got ${describe(opts)}`)
  if (!Number.isSafeInteger(opts.limit) || opts.limit < 1) throw invalid(`@RateLimit limit must be a positive integer, got ${describe(opts.limit)}`)
  durationMs('@RateLimit window', opts.window)
  if (opts.name !== undefined) checkKey(opts.name, '@RateLimit name')
  const spec = { ...opts, key: http.checkKeyFunction(opts.key), style: http.headerStyle(opts.headers) }
  return applyDecorators(SetMetadata(RATE_LIMIT, spec), UseGuards(RateLimitGuard))
}

/** Limiters by client, then by name: routes naming the same limiter share it. */
const limiters = new WeakMap()
/**
 * Requests already counted: with @RateLimit on both a class and one of its methods, Nest runs
 * the guard twice, and both runs read the method's options.
 */
const counted = new WeakSet()

class RateLimitGuard {
  constructor(client, reflector) {
    this._client = client
    this._reflector = reflector
  }

  async canActivate(context) {
    const spec = this._reflector.getAllAndOverride(RATE_LIMIT, [context.getHandler(), context.getClass()])
    if (spec === undefined) return true
    const { req, res } = httpOf(context, 'RateLimit')
    if (counted.has(req)) return true
    counted.add(req)
    const limiter = this._limiter(spec, spec.name || `${context.getClass().name}.${context.getHandler().name}`)
    const result = await limiter.consume(http.requestId(req, spec.key))
    for (const [name, value] of http.rateLimitHeaders(limiter, result, spec.style)) setHeader(res, name, value)
    if (result.allowed) return true
    setHeader(res, 'Retry-After', http.retryAfter(result))
    throw new HttpException(http.TOO_MANY_REQUESTS.message, HttpStatus.TOO_MANY_REQUESTS)
  }

  _limiter(spec, name) {
    let byName = limiters.get(this._client)
    if (byName === undefined) limiters.set(this._client, (byName = new Map()))
    const known = byName.get(name)
    if (known !== undefined) {
      if (LIMITER_FIELDS.some((f) => known.spec[f] !== spec[f])) {
        throw invalid(`@RateLimit: two routes name the limiter ${JSON.stringify(name)} with different options`)
      }
      return known.limiter
    }
    const opts = { name }
    for (const f of LIMITER_FIELDS) if (spec[f] !== undefined) opts[f] = spec[f]
    const limiter = this._client.rateLimiter(opts)
    byName.set(name, { spec, limiter })
    return limiter
  }
}

Inject(FERRO_CLIENT)(RateLimitGuard, undefined, 0)
Inject(Reflector)(RateLimitGuard, undefined, 1)
Injectable()(RateLimitGuard)

module.exports = { RateLimit, RateLimitGuard }
