'use strict'
// A small job queue any BRPOP worker can consume. Keys, after the keyPrefix:
// - `queue:<name>`: the list. `push` LPUSHes `{"id","payload","enqueuedAt"}`
//   as JSON, so `BRPOP queue:<name>` (a Python worker, say) gets the oldest job.
// - `{<keyPrefix>queue:<name>}:processing`: jobs taken by `pop` and not acked
//   yet. `pop` moves a job there atomically (BLMOVE), so a consumer that dies
//   between taking and finishing a job leaves it there instead of losing it.
//   Its hash tag is the list's whole name, so both keys live in one Cluster
//   slot; and it starts with the keyPrefix like every key of the client, so
//   an ACL user limited to `~<keyPrefix>*` may pop.
// - `queue:<name>:status:<id>`: a job's status, JSON, 1 h by default. A worker
//   in any language reports progress with `SET queue:<name>:status:<id> <json> EX <s>`.

const { randomUUID } = require('node:crypto')
const { invalid } = require('./errors')
const { TEXT } = require('./transport')
const v = require('./values')

/** How long `pop` waits by default, and at most: a pending pop holds up nothing but close(). */
const DEFAULT_WAIT_MS = 1000
const MAX_WAIT_MS = 60000
const STATUS_TTL = '1h'

class Queue {
  constructor(client, name) {
    v.checkKey(name, 'name')
    // A brace would change the list's hash tag and split it from its processing list.
    if (/[{}]/.test(name)) throw invalid(`name must not contain '{' or '}', got ${v.describe(name)}`)
    this.name = name
    this._client = client
    this._list = `${client._prefix}queue:${name}`
    this._processing = `${client._prefix}{${this._list}}:processing`
  }

  /** LPUSHes the job; resolves its id. */
  async push(payload) {
    if (Buffer.isBuffer(payload)) throw invalid('payload must be JSON-serializable: encode a Buffer (base64, say) first')
    const body = v.serialize(payload)
    const id = randomUUID()
    const job = `{"id":"${id}","payload":${body},"enqueuedAt":"${new Date().toISOString()}"}`
    await this._client._cmd(['LPUSH', this._list, job])
    return id
  }

  /**
   * Moves the oldest job to the processing list and resolves `{ id, payload }`, or null when
   * none came within `timeoutMs` (default 1000, at most 60000; 0 takes a job only if one is
   * there). The wait runs on a connection of its own: other commands never queue behind it.
   * close() ends a waiting pop at once with ERR_CLOSED.
   */
  async pop(opts = {}) {
    if (opts === null || typeof opts !== 'object') throw invalid(`options must be an object, got ${v.describe(opts)}`)
    const waitMs = waitOf(opts.timeoutMs)
    const client = this._client
    if (waitMs === 0) return client._cmd(['LMOVE', this._list, this._processing, 'RIGHT', 'LEFT'], TEXT, toJob)
    return client._blocking((id) => client._native.queuePop(id, this._list, this._processing, waitMs), toJob)
  }

  /** Removes the job from the processing list (from any process: it searches by id). */
  async ack(id) {
    v.checkKey(id, 'id')
    await this._client._script('queue_ack', [this._processing], [id])
  }

  async setStatus(id, status, opts = {}) {
    const key = this._statusKey(id)
    const value = v.serialize(status)
    if (opts === null || typeof opts !== 'object') throw invalid(`options must be an object, got ${v.describe(opts)}`)
    const ttlMs = v.durationMs('ttl', opts.ttl === undefined ? STATUS_TTL : opts.ttl)
    await this._client._cmd(['SET', key, value, 'PX', String(ttlMs)])
  }

  async status(id) {
    return this._client._cmd(['GET', this._statusKey(id)], TEXT, v.deserialize)
  }

  _statusKey(id) {
    return `${this._list}:status:${v.checkKey(id, 'id')}`
  }
}

function waitOf(timeoutMs) {
  if (timeoutMs === undefined) return DEFAULT_WAIT_MS
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0 && timeoutMs <= MAX_WAIT_MS)) {
    throw invalid(`timeoutMs must be a number from 0 to ${MAX_WAIT_MS}, got ${v.describe(timeoutMs)}`)
  }
  return Math.ceil(timeoutMs)
}

/**
 * A popped item to `{ id, payload }`. An item that is not one of our jobs (another producer
 * LPUSHed it) comes back with its raw text as both id (for `ack`) and payload source.
 */
function toJob(raw) {
  if (raw === null) return null
  const job = v.deserialize(raw)
  if (job !== null && typeof job === 'object' && typeof job.id === 'string') return { id: job.id, payload: job.payload }
  return { id: raw, payload: job }
}

module.exports = { Queue }
