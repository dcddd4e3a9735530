'use strict'
// `rateLimit(limiter, opts)`: one `limiter.consume(id)` per request; a denial
// answers 429 with `Retry-After` (or runs `opts.handler`).

const { invalid } = require('../errors')
const { describe } = require('../values')
const http = require('../http/ratelimit')

function rateLimit(limiter, opts = {}) {
  http.checkLimiter(limiter)
  if (opts === null || typeof opts !== 'object') throw invalid(`rateLimit options must be an object, got ${describe(opts)}`)
  const key = http.checkKeyFunction(opts.key)
  const style = http.headerStyle(opts.headers)
  const { skip, handler } = opts
  if (skip !== undefined && typeof skip !== 'function') throw invalid(`skip must be a function of the request, got ${describe(skip)}`)
  if (handler !== undefined && typeof handler !== 'function') {
    throw invalid(`handler must be a function (req, res, next, result), got ${describe(handler)}`)
  }

  return async function ferroRateLimit(req, res, next) {
    let result
    try {
      if (skip && (await skip(req))) return next()
      result = await limiter.consume(http.requestId(req, key))
    } catch (err) {
      return next(err)
    }
    for (const [name, value] of http.rateLimitHeaders(limiter, result, style)) res.setHeader(name, value)
    if (result.allowed) return next()
    res.setHeader('Retry-After', http.retryAfter(result))
    if (handler) return handler(req, res, next, result)
    res.status(429).json(http.TOO_MANY_REQUESTS)
  }
}

module.exports = { rateLimit }
