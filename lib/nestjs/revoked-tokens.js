'use strict'
// @RejectRevokedTokens(opts?) on a controller method or class (or
// RevokedTokenGuard used directly, e.g. as APP_GUARD): after the app's own JWT
// guard, a revoked token gets the standard 401 UnauthorizedException.

const { applyDecorators, Inject, Injectable, SetMetadata, UnauthorizedException, UseGuards } = require('@nestjs/common')
const { Reflector } = require('@nestjs/core')
const { invalid } = require('../errors')
const { describe } = require('../values')
const http = require('../http/revocation')
const { httpOf, setHeader } = require('./http-context')
const { FERRO_CLIENT } = require('./module')

const REVOKED_TOKENS = 'ferrocache:revoked-tokens'
const DEFAULTS = Object.freeze({})

/** `{ claims?, prefix?, onRedisError? }`: where the claims are, and the blacklist's own options. */
function RejectRevokedTokens(opts = {}) {
  if (opts === null || typeof opts !== 'object') throw invalid(`@RejectRevokedTokens options must be an object, got ${describe(opts)}`)
  http.checkClaimsFunction(opts.claims)
  return applyDecorators(SetMetadata(REVOKED_TOKENS, opts), UseGuards(RevokedTokenGuard))
}

/** Blacklists by client, then by their options. */
const blacklists = new WeakMap()

class RevokedTokenGuard {
  constructor(client, reflector) {
    this._client = client
    this._reflector = reflector
  }

  async canActivate(context) {
    const opts = this._reflector.getAllAndOverride(REVOKED_TOKENS, [context.getHandler(), context.getClass()]) || DEFAULTS
    const { req, res } = httpOf(context, 'RejectRevokedTokens')
    const token = http.claimsOf(req, opts.claims)
    if (token === null) return true
    if (!(await this._blacklist(opts).isRevoked(token))) return true
    setHeader(res, 'WWW-Authenticate', http.WWW_AUTHENTICATE)
    throw new UnauthorizedException({ ...http.TOKEN_REVOKED })
  }

  _blacklist(opts) {
    let byOptions = blacklists.get(this._client)
    if (byOptions === undefined) blacklists.set(this._client, (byOptions = new Map()))
    const id = `${opts.prefix}\0${opts.onRedisError}`
    let blacklist = byOptions.get(id)
    if (blacklist === undefined) {
      blacklist = this._client.tokenBlacklist({ prefix: opts.prefix, onRedisError: opts.onRedisError })
      byOptions.set(id, blacklist)
    }
    return blacklist
  }
}

Inject(FERRO_CLIENT)(RevokedTokenGuard, undefined, 0)
Inject(Reflector)(RevokedTokenGuard, undefined, 1)
Injectable()(RevokedTokenGuard)

module.exports = { RejectRevokedTokens, RevokedTokenGuard }
