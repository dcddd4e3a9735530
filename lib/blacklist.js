'use strict'
// A JWT revocation list. Two kinds of keys under `<keyPrefix><prefix>:`:
// - `jti:<jti>` = 1, expiring at the token's own `exp` (SET ... EXAT), so the
//   list never holds a token that would be rejected as expired anyway;
// - `user:<sub>` = the server time, in ms, of the user's last "revoke all":
//   every token of that user issued up to then is revoked. Milliseconds, not
//   seconds: a token issued in the same second as the revoke-all is caught
//   (compared as iat * 1000 <= revokedBefore). The flip side of `iat`'s
//   second precision: a token issued in that same second *after* the call is
//   rejected too, so the user signs in again a second later.
// Fails closed: when Redis cannot answer, `isRevoked` says "revoked" unless
// `onRedisError: 'allow'`.

const { invalid } = require('./errors')
const v = require('./values')

const POLICIES = ['deny', 'allow']

/** Failures of the request itself, not of Redis: these reject whatever the policy. */
const NOT_REDIS = new Set(['ERR_INVALID_ARGUMENT', 'ERR_CLOSED'])

class TokenBlacklist {
  constructor(client, opts = {}) {
    if (opts === null || typeof opts !== 'object') throw invalid(`options must be an object, got ${v.describe(opts)}`)
    const { prefix = 'jwt', onRedisError = 'deny' } = opts
    v.checkKey(prefix, 'prefix')
    if (!POLICIES.includes(onRedisError)) throw invalid(`onRedisError must be 'deny' or 'allow', got ${v.describe(onRedisError)}`)
    this._client = client
    this._base = `${client._prefix}${prefix}:`
    this._onError = onRedisError
  }

  /** Revokes until the token's `exp` (seconds since the epoch); an expired token writes nothing. */
  async revoke(token) {
    checkToken(token)
    const jti = v.checkKey(token.jti, 'token.jti')
    const exp = finite('token.exp', token.exp)
    // The app's clock decides, as it does when it verifies the token's exp.
    if (exp * 1000 <= Date.now()) return
    await this._client._cmd(['SET', this._jtiKey(jti), '1', 'EXAT', String(Math.ceil(exp))])
  }

  /** One round trip: one MGET of the token's key and its user's revoked-before key. */
  async isRevoked(token) {
    checkToken(token)
    const jti = v.checkKey(token.jti, 'token.jti')
    const sub = token.sub === undefined ? undefined : v.checkKey(token.sub, 'token.sub')
    const iat = token.iat === undefined ? undefined : finite('token.iat', token.iat)
    const keys = [this._jtiKey(jti)]
    if (sub !== undefined) keys.push(this._userKey(sub))
    let replies
    try {
      replies = await this._client._cmd(['MGET', ...keys])
    } catch (err) {
      if (NOT_REDIS.has(err.code)) throw err
      return this._onError === 'deny'
    }
    if (replies[0] !== null) return true
    const revokedBefore = replies[1]
    if (revokedBefore === undefined || revokedBefore === null) return false
    // A token without iat cannot show it was issued after the revoke-all.
    return iat === undefined || iat * 1000 <= Number(revokedBefore)
  }

  /** Revokes every token of `sub` issued up to now (Redis server clock, ms). */
  async revokeAllForUser(sub, opts = {}) {
    v.checkKey(sub, 'sub')
    if (opts === null || typeof opts !== 'object') throw invalid(`options must be an object, got ${v.describe(opts)}`)
    // Older tokens have expired by the time the key does.
    const keepMs = v.durationMs('maxTokenLifetime', opts.maxTokenLifetime === undefined ? '1d' : opts.maxTokenLifetime)
    await this._client._script('blacklist_revoke_all', [this._userKey(sub)], [String(keepMs)])
  }

  _jtiKey(jti) {
    return `${this._base}jti:${jti}`
  }

  _userKey(sub) {
    return `${this._base}user:${sub}`
  }
}

function checkToken(token) {
  if (token === null || typeof token !== 'object') throw invalid(`token must be an object with a jti, got ${v.describe(token)}`)
}

function finite(name, n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) throw invalid(`${name} must be a finite number (seconds since the epoch), got ${v.describe(n)}`)
  return n
}

module.exports = { TokenBlacklist }
