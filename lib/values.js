'use strict'
// Argument checks and value (de)serialization, shared by every API.
// Values are JSON by V8 (JSON.stringify / JSON.parse); Buffers pass through.

const { invalid } = require('./errors')

/** What the first non-blank character of a JSON text can be. */
const JSON_START = /^\s*[[{"0-9tfn-]/

const UNIT_MS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/

/** A Duration (seconds, or a string with a unit) in whole milliseconds, > 0. */
function durationMs(name, d) {
  let ms
  if (typeof d === 'number') ms = d * 1000
  else if (typeof d === 'string') {
    const m = DURATION.exec(d)
    if (m) ms = Number(m[1]) * UNIT_MS[m[2] || 's']
  }
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw invalid(`${name} must be a positive duration (seconds, or a string like '500ms', '30s', '5m', '1h', '1d'), got ${describe(d)}`)
  }
  return Math.ceil(ms)
}

/** A duration that may be 0 (an option that 0 turns off, or a timeout of 0 = at once), in ms. */
function durationOrZeroMs(name, d) {
  return d === 0 ? 0 : durationMs(name, d)
}

/** A TTL jitter: the fraction of a TTL an entry's own TTL may differ by, in [0, 1). */
function checkJitter(name, j) {
  if (typeof j !== 'number' || !(j >= 0 && j < 1)) throw invalid(`${name} must be a number in [0, 1), got ${describe(j)}`)
  return j
}

/** The library's own defaults of the options `cachePolicy` reads (grace off, no loader time limit). */
const CACHE_POLICY_DEFAULTS = { jitter: 0, graceMs: 0, graceBackoffMs: 10000, timeoutMs: undefined, hardTimeoutMs: undefined, onLoaderError: undefined }

/**
 * The options of a cache call that the client's `cache` option may default, checked (`at`
 * prefixes their names in errors), `base` filling those not given. A soft `timeout` above
 * `hardTimeout` could never fire: refused.
 */
function cachePolicy(src, base, at) {
  const o = {
    jitter: src.jitter === undefined ? base.jitter : checkJitter(at + 'jitter', src.jitter),
    graceMs: src.grace === undefined ? base.graceMs : durationOrZeroMs(at + 'grace', src.grace),
    graceBackoffMs: src.graceBackoff === undefined ? base.graceBackoffMs : durationMs(at + 'graceBackoff', src.graceBackoff),
    timeoutMs: src.timeout === undefined ? base.timeoutMs : durationOrZeroMs(at + 'timeout', src.timeout),
    hardTimeoutMs: src.hardTimeout === undefined ? base.hardTimeoutMs : durationMs(at + 'hardTimeout', src.hardTimeout),
    onLoaderError: src.onLoaderError === undefined ? base.onLoaderError : checkFunction(at + 'onLoaderError', src.onLoaderError),
  }
  if (o.timeoutMs !== undefined && o.hardTimeoutMs !== undefined && o.timeoutMs > o.hardTimeoutMs) {
    throw invalid(`${at}timeout (${o.timeoutMs} ms) must not exceed ${at}hardTimeout (${o.hardTimeoutMs} ms)`)
  }
  return o
}

function checkFunction(name, f) {
  if (typeof f !== 'function') throw invalid(`${name} must be a function, got ${describe(f)}`)
  return f
}

function checkKey(key, name = 'key') {
  if (typeof key !== 'string' || key.length === 0) {
    throw invalid(`${name} must be a non-empty string, got ${describe(key)}`)
  }
  return key
}

function checkKeys(keys, name = 'keys') {
  if (!Array.isArray(keys)) throw invalid(`${name} must be an array of keys, got ${describe(keys)}`)
  keys.forEach((k, i) => checkKey(k, `${name}[${i}]`))
  return keys
}

function checkInteger(name, n) {
  if (!Number.isSafeInteger(n)) throw invalid(`${name} must be a safe integer, got ${describe(n)}`)
  return n
}

/** The bytes to store: a Buffer as is, anything else as JSON text. */
function serialize(value) {
  if (Buffer.isBuffer(value)) return value
  if (value === undefined) throw invalid('value must not be undefined (use null to store an empty value)')
  let text
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw invalid(`value cannot be serialized to JSON: ${err.message}`)
  }
  if (text === undefined) throw invalid(`value cannot be serialized to JSON: ${typeof value}`)
  return text
}

/** Stored text back to a value: JSON when it parses, else the text itself; Buffers stay Buffers. */
function deserialize(raw) {
  if (typeof raw !== 'string') return raw
  // Text that cannot start a JSON value is returned without a (costly) failed parse.
  if (!JSON_START.test(raw)) return raw
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

function byteLength(payload) {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
}

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'bigint') return `${v}n`
  if (v === null || typeof v !== 'object') return String(v)
  return Array.isArray(v) ? 'an array' : 'an object'
}

module.exports = { durationMs, durationOrZeroMs, cachePolicy, CACHE_POLICY_DEFAULTS, checkJitter, checkKey, checkKeys, checkInteger, serialize, deserialize, byteLength, describe }
