'use strict'
// `ferrocache/express`: middleware over a ferrocache client. Works with Express 4 and 5
// (every middleware handles its own rejections).

const { cacheResponse } = require('./cache-response')
const { rateLimit } = require('./rate-limit')
const { rejectRevokedTokens } = require('./revoked-tokens')
const { healthHandler } = require('./health')

module.exports = { cacheResponse, rateLimit, rejectRevokedTokens, healthHandler }
