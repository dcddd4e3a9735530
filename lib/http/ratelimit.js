'use strict'
// What the Express middleware and the NestJS guard share about rate limiting
// over HTTP: which id a request counts against, and the response headers.
// Headers carry the limiter's name, never the id (an IP, a user id).

const { invalid } = require('../errors')
const { describe } = require('../values')

const STYLES = ['draft', 'legacy', false]

/** The body of a 429, the same as NestJS's `HttpException('Too Many Requests', 429)`. */
const TOO_MANY_REQUESTS = Object.freeze({ statusCode: 429, message: 'Too Many Requests' })

function checkLimiter(limiter) {
  if (limiter === null || typeof limiter !== 'object' || typeof limiter.consume !== 'function') {
    throw invalid(`limiter must be a RateLimiter from client.rateLimiter(...), got ${describe(limiter)}`)
  }
  return limiter
}

/** `'draft'` (default), `'legacy'` or `false`. */
function headerStyle(headers) {
  if (headers === undefined) return 'draft'
  if (!STYLES.includes(headers)) throw invalid(`headers must be 'draft', 'legacy' or false, got ${describe(headers)}`)
  return headers
}

function checkKeyFunction(key) {
  if (key !== undefined && typeof key !== 'function') {
    throw invalid(`key must be a function of the request returning a string, got ${describe(key)}`)
  }
  return key
}

/** The id a request counts against: `key(req)`, else the client IP (`req.ip` honours Express' `trust proxy`). */
function requestId(req, key) {
  const id = key ? key(req) : req.ip || (req.socket && req.socket.remoteAddress)
  if (typeof id !== 'string' || id.length === 0) {
    throw invalid(
      key
        ? `the rate-limit key function returned ${describe(id)}; it must return a non-empty string`
        : 'the request has no client IP (req.ip) to rate-limit by: pass a key function',
    )
  }
  return id
}

const seconds = (ms) => Math.ceil(ms / 1000)

/** An RFC 8941 string: printable ASCII, with `"` and `\` escaped. */
function sfString(s) {
  return '"' + s.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&') + '"'
}

/**
 * `[name, value]` pairs: the IETF draft's `RateLimit-Policy` / `RateLimit`, or the legacy
 * `X-RateLimit-Limit` / `-Remaining` / `-Reset` (seconds until full capacity), or none.
 */
function rateLimitHeaders(limiter, result, style) {
  if (style === 'draft') {
    const name = sfString(limiter.name)
    return [
      ['RateLimit-Policy', `${name};q=${limiter.limit};w=${seconds(limiter.windowMs)}`],
      ['RateLimit', `${name};r=${result.remaining};t=${seconds(result.resetMs)}`],
    ]
  }
  if (style === 'legacy') {
    return [
      ['X-RateLimit-Limit', String(limiter.limit)],
      ['X-RateLimit-Remaining', String(result.remaining)],
      ['X-RateLimit-Reset', String(seconds(result.resetMs))],
    ]
  }
  return []
}

/** `Retry-After` in whole seconds, rounded up, at least 1. */
function retryAfter(result) {
  return String(Math.max(1, seconds(result.retryAfterMs)))
}

module.exports = { TOO_MANY_REQUESTS, checkLimiter, headerStyle, checkKeyFunction, requestId, rateLimitHeaders, retryAfter }
