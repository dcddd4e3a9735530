'use strict'
// What the Express middleware and the NestJS guard share about revoked JWTs:
// where the verified claims of a request are, and the 401 they answer with.

const { invalid } = require('../errors')
const { describe } = require('../values')

/** The body of the 401, the same as NestJS's `UnauthorizedException('Token revoked')`. */
const TOKEN_REVOKED = Object.freeze({ statusCode: 401, error: 'Unauthorized', message: 'Token revoked' })
/** RFC 6750's answer for a token that is no longer valid. */
const WWW_AUTHENTICATE = 'Bearer error="invalid_token", error_description="The token has been revoked"'

function checkBlacklist(blacklist) {
  if (blacklist === null || typeof blacklist !== 'object' || typeof blacklist.isRevoked !== 'function') {
    throw invalid(`blacklist must be a TokenBlacklist from client.tokenBlacklist(...), got ${describe(blacklist)}`)
  }
  return blacklist
}

function checkClaimsFunction(claims) {
  if (claims !== undefined && typeof claims !== 'function') {
    throw invalid(`claims must be a function of the request returning { jti, sub, iat }, got ${describe(claims)}`)
  }
  return claims
}

/**
 * The claims of the request's verified token: `claims(req)`, else `req.user` (Passport) or
 * `req.auth` (express-jwt). Null when the request carries none: this check runs after the app's
 * own verification and leaves unauthenticated requests to it. A numeric `sub` becomes a string,
 * a null `sub` or `iat` counts as absent.
 */
function claimsOf(req, claims) {
  const c = claims ? claims(req) : req.user || req.auth
  if (c === undefined || c === null) return null
  if (typeof c !== 'object') throw invalid(`the token claims must be an object { jti, sub, iat }, got ${describe(c)}`)
  const sub = c.sub === null ? undefined : typeof c.sub === 'number' ? String(c.sub) : c.sub
  return { jti: c.jti, sub, iat: c.iat === null ? undefined : c.iat }
}

module.exports = { TOKEN_REVOKED, WWW_AUTHENTICATE, checkBlacklist, checkClaimsFunction, claimsOf }
