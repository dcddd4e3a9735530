'use strict'
const { invalid } = require('./errors')
const { describe } = require('./values')

const ESCAPED = /[%:*?[\]\\]/g
const encode = (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')

/**
 * key('listing', 42) === 'listing:42'. Each part is percent-encoded for `% : * ? [ ] \`, so the
 * result holds no glob character (it is both the key and an exact pattern for it) and different
 * parts never produce the same key.
 */
function key(...parts) {
  if (parts.length === 0) throw invalid('key() needs at least one part')
  return parts
    .map((p, i) => {
      if (typeof p === 'number' && Number.isFinite(p)) return String(p)
      if (typeof p === 'string') return p.replace(ESCAPED, encode)
      throw invalid(`key() part ${i} must be a string or a finite number, got ${describe(p)}`)
    })
    .join(':')
}

const TTL = Object.freeze({ SHORT: 60, MEDIUM: 300, LONG: 3600, VERY_LONG: 86400 })

module.exports = { key, TTL }
