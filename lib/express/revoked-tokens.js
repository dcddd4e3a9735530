'use strict'
// `rejectRevokedTokens(blacklist, opts)`: placed after the app's own JWT
// verification, answers 401 for a token on the blacklist. Requests without
// verified claims pass: authentication stays the app's job. When Redis fails,
// the blacklist's `onRedisError` decides (fail closed by default: 401).

const { invalid } = require('../errors')
const { describe } = require('../values')
const http = require('../http/revocation')

function rejectRevokedTokens(blacklist, opts = {}) {
  http.checkBlacklist(blacklist)
  if (opts === null || typeof opts !== 'object') throw invalid(`rejectRevokedTokens options must be an object, got ${describe(opts)}`)
  const claims = http.checkClaimsFunction(opts.claims)

  return async function ferroRejectRevokedTokens(req, res, next) {
    let revoked
    try {
      const token = http.claimsOf(req, claims)
      if (token === null) return next()
      revoked = await blacklist.isRevoked(token)
    } catch (err) {
      return next(err)
    }
    if (!revoked) return next()
    res.setHeader('WWW-Authenticate', http.WWW_AUTHENTICATE)
    res.status(401).json(http.TOKEN_REVOKED)
  }
}

module.exports = { rejectRevokedTokens }
