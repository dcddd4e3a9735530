// ESM entry of `ferrocache/express`: the same objects as the CommonJS entry.
import express from './express.js'

export const { cacheResponse, rateLimit, rejectRevokedTokens, healthHandler } = express
export default express
