'use strict'
// `ferrocache/nestjs`: needs @nestjs/common and @nestjs/core (optional peer dependencies).

const { FerroModule, FERRO_CLIENT, InjectFerro } = require('./module')
const { Cacheable, CacheEvict, CachePut } = require('./cache-decorators')
const { RateLimit, RateLimitGuard } = require('./rate-limit')
const { RejectRevokedTokens, RevokedTokenGuard } = require('./revoked-tokens')
const { FerroHealthIndicator } = require('./health')

module.exports = {
  FerroModule,
  FERRO_CLIENT,
  InjectFerro,
  Cacheable,
  CacheEvict,
  CachePut,
  RateLimit,
  RateLimitGuard,
  RejectRevokedTokens,
  RevokedTokenGuard,
  FerroHealthIndicator,
}
