'use strict'
// `cacheResponse(client, opts)`: caches successful GET responses (status, body,
// content type) in client.cache, under `http:GET:<url>` by default (built with
// key(), so a glob like `*menu*` reaches it). It captures what the handler
// passes to res.send / res.json; responses written otherwise (streams,
// res.end, sendFile) pass through uncached.

const { invalid } = require('../errors')
const { key: buildKey } = require('../../index')
const { checkKey, checkJitter, durationMs, describe } = require('../values')

/** Response Cache-Control directives that forbid a shared cache to store it. */
const UNCACHEABLE = /(?:^|,)\s*(?:no-store|private)\b/i

function cacheResponse(client, opts) {
  if (client === null || typeof client !== 'object' || client.cache === undefined) {
    throw invalid(`client must be a ferrocache Client, got ${describe(client)}`)
  }
  if (opts === null || typeof opts !== 'object') throw invalid(`cacheResponse options must be an object with a ttl, got ${describe(opts)}`)
  const { ttl, key, tags, jitter, vary = [] } = opts
  durationMs('ttl', ttl)
  if (jitter !== undefined) checkJitter('jitter', jitter)
  if (key !== undefined && typeof key !== 'function') checkKey(key)
  if (tags !== undefined && typeof tags !== 'function' && !Array.isArray(tags)) {
    throw invalid(`tags must be an array of strings or a function of the request, got ${describe(tags)}`)
  }
  if (!Array.isArray(vary)) throw invalid(`vary must be an array of header names, got ${describe(vary)}`)
  vary.forEach((h, i) => checkKey(h, `vary[${i}]`))

  /** The entry's key: `key` (or `http:GET:<url>`), then the value of each `vary` header. */
  function keyOf(req) {
    const base = typeof key === 'function' ? checkKey(key(req), 'the key function result') : key || buildKey('http', 'GET', req.originalUrl)
    if (vary.length === 0) return base
    return base + ':' + buildKey(...vary.map((h) => `${h.toLowerCase()}=${req.get(h) || ''}`))
  }

  /** The entry's tags: `tags`, or `tags(req)` checked like any tag list. */
  function tagsOf(req) {
    const t = typeof tags === 'function' ? tags(req) : tags
    if (t === undefined) return undefined
    if (!Array.isArray(t)) throw invalid(`the tags function returned ${describe(t)}; it must return an array of strings`)
    t.forEach((tag, i) => checkKey(tag, `tags[${i}]`))
    return t
  }

  return async function ferroCacheResponse(req, res, next) {
    if (req.method !== 'GET') return next()
    let k, t
    try {
      k = keyOf(req)
      t = tagsOf(req)
    } catch (err) {
      return next(err)
    }
    vary.forEach((h) => res.vary(h))
    let hit = null
    try {
      hit = await client.cache.get(k)
    } catch {
      // Redis failed: the handler answers.
    }
    if (isEntry(hit)) return replay(res, hit)
    res.setHeader('X-Cache', 'MISS')
    // A failed write only means the next request is a miss too.
    capture(res, (entry) => client.cache.set(k, entry, { ttl, tags: t, jitter }).catch(() => undefined))
    next()
  }
}

function isEntry(v) {
  return v !== null && typeof v === 'object' && Number.isInteger(v.status) && typeof v.body === 'string'
}

function replay(res, entry) {
  res.status(entry.status)
  if (typeof entry.type === 'string') res.setHeader('Content-Type', entry.type)
  res.setHeader('X-Cache', 'HIT')
  res.send(entry.base64 ? Buffer.from(entry.body, 'base64') : entry.body)
}

/** Wraps res.send until it is called with the final body (a string or Buffer; res.json passes a string). */
function capture(res, store) {
  const send = res.send
  res.send = function captureSend(body) {
    if (typeof body !== 'string' && !Buffer.isBuffer(body)) return send.call(this, body)
    res.send = send
    const status = res.statusCode
    const out = send.call(this, body)
    if (cacheable(res, status)) {
      const type = res.getHeader('Content-Type')
      const entry = typeof body === 'string' ? { status, type, body } : { status, type, body: body.toString('base64'), base64: true }
      store(entry)
    }
    return out
  }
}

function cacheable(res, status) {
  if (status < 200 || status > 299) return false
  if (res.getHeader('Set-Cookie') !== undefined) return false
  const cc = res.getHeader('Cache-Control')
  return !(typeof cc === 'string' && UNCACHEABLE.test(cc))
}

module.exports = { cacheResponse }
