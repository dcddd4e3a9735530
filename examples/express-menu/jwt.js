'use strict'
// A tiny HS256 JWT (sign / verify) on node:crypto, enough for the example.
// A real app would use a maintained library (jsonwebtoken, jose).

const { createHmac, randomUUID, timingSafeEqual } = require('node:crypto')

const b64url = (buf) => Buffer.from(buf).toString('base64url')
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))

function sign(claims, secret, { expiresInSeconds = 3600 } = {}) {
  const iat = Math.floor(Date.now() / 1000)
  const payload = b64url(JSON.stringify({ jti: randomUUID(), iat, exp: iat + expiresInSeconds, ...claims }))
  return `${HEADER}.${payload}.${mac(`${HEADER}.${payload}`, secret)}`
}

/** The claims of a valid, unexpired token; null otherwise. */
function verify(token, secret) {
  const parts = typeof token === 'string' ? token.split('.') : []
  if (parts.length !== 3 || parts[0] !== HEADER) return null
  const expected = Buffer.from(mac(`${parts[0]}.${parts[1]}`, secret))
  const given = Buffer.from(parts[2])
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
  let claims
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
  } catch {
    return null
  }
  return typeof claims.exp === 'number' && claims.exp > Date.now() / 1000 ? claims : null
}

function mac(data, secret) {
  return createHmac('sha256', secret).update(data).digest('base64url')
}

module.exports = { sign, verify }
