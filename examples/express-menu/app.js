'use strict'
// The menu API. Everything Redis does here is one line of ferrocache:
//   GET  /api/menu            cached as `menu:full` for 300 s (X-Cache: HIT | MISS)
//   POST/PUT/DELETE /api/dishes[/:id]   (signed in) change the menu, then invalidate `menu:*`
//   POST /api/login           rate-limited per IP: 5 attempts, then one every 3 minutes
//   POST /api/logout          revokes the token: it gets 401 from then on
//   GET  /api/me              who the token belongs to
//   GET  /api/health          200 or 503

const express = require('express')
const { TTL } = require('ferrocache')
const { cacheResponse, healthHandler, rateLimit, rejectRevokedTokens } = require('ferrocache/express')
const jwt = require('./jwt')

/** `redis`: a ferrocache client; `db`: see db.js; `secret`: the JWT signing key. */
function createApp({ redis, db, secret }) {
  const app = express()
  app.use(express.json())

  // A token bucket: 5 attempts at once, then 5 per 15 minutes (one every 3 minutes).
  const loginLimiter = redis.rateLimiter({ name: 'login', limit: 5, window: '15m', algorithm: 'token-bucket' })
  const blacklist = redis.tokenBlacklist()

  /** The app's own JWT verification: `req.user` holds the claims. */
  function requireAuth(req, res, next) {
    const m = /^Bearer (.+)$/.exec(req.get('Authorization') || '')
    const claims = m && jwt.verify(m[1], secret)
    if (!claims) return res.status(401).json({ statusCode: 401, message: 'Sign in first' })
    req.user = claims
    next()
  }
  const signedIn = [requireAuth, rejectRevokedTokens(blacklist)]

  app.get('/api/menu', cacheResponse(redis, { ttl: TTL.MEDIUM, key: 'menu:full' }), async (req, res) => {
    res.json(await db.menu())
  })

  /** After a write: every cached menu view goes (the L1 copies too). */
  const menuChanged = () => redis.cache.invalidate('menu:*')

  app.post('/api/dishes', signedIn, async (req, res) => {
    const { name, price, section } = req.body || {}
    if (typeof name !== 'string' || typeof price !== 'number' || typeof section !== 'string') {
      return res.status(400).json({ statusCode: 400, message: 'name, price and section are required' })
    }
    const dish = await db.addDish({ name, price, section })
    await menuChanged()
    res.status(201).json(dish)
  })

  app.put('/api/dishes/:id', signedIn, async (req, res) => {
    const dish = await db.updateDish(Number(req.params.id), req.body || {})
    if (dish === null) return res.status(404).json({ statusCode: 404, message: 'No such dish' })
    await menuChanged()
    res.json(dish)
  })

  app.delete('/api/dishes/:id', signedIn, async (req, res) => {
    if (!(await db.deleteDish(Number(req.params.id)))) return res.status(404).json({ statusCode: 404, message: 'No such dish' })
    await menuChanged()
    res.sendStatus(204)
  })

  app.post('/api/login', rateLimit(loginLimiter), async (req, res) => {
    const { username, password } = req.body || {}
    const user = await db.findUser(username, password)
    if (user === null) return res.status(401).json({ statusCode: 401, message: 'Wrong username or password' })
    res.json({ token: jwt.sign({ sub: user.id, name: user.username }, secret) })
  })

  app.post('/api/logout', signedIn, async (req, res) => {
    await blacklist.revoke({ jti: req.user.jti, exp: req.user.exp })
    res.sendStatus(204)
  })

  app.get('/api/me', signedIn, (req, res) => {
    res.json({ id: req.user.sub, name: req.user.name })
  })

  app.get('/api/health', healthHandler(redis))

  return app
}

module.exports = { createApp }
