// ESM entry of `ferrocache/nestjs`: the same objects as the CommonJS entry.
import nestjs from './nestjs.js'

export const {
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
} = nestjs
export default nestjs
