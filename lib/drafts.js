'use strict'
// Multi-step form drafts (an onboarding flow, say). A draft is one hash,
// `<keyPrefix>draft:<namespace>:<id>`: one field per step holding that step's
// JSON, plus `_version` (bumped by every save) and `_updatedAt` (ISO 8601).
// The TTL slides: every save refreshes it, reads do not. Step names cannot
// start with `_`, which keeps them apart from the bookkeeping fields.

const { FerroError, invalid } = require('./errors')
const v = require('./values')

class Drafts {
  constructor(client, namespace = 'onboarding', opts = {}) {
    v.checkKey(namespace, 'namespace')
    if (opts === null || typeof opts !== 'object') throw invalid(`options must be an object, got ${v.describe(opts)}`)
    this._client = client
    this._base = `${client._prefix}draft:${namespace}:`
    this._ttlMs = String(v.durationMs('ttl', opts.ttl === undefined ? '1d' : opts.ttl))
  }

  /** Merges one step, bumps the version, refreshes the TTL: one script, so concurrent saves never lose a step. */
  async save(id, step, data, opts = {}) {
    const key = this._key(id)
    if (typeof step !== 'string' || step.length === 0 || step.startsWith('_')) {
      throw invalid(`step must be a non-empty string not starting with '_', got ${v.describe(step)}`)
    }
    const payload = v.serialize(data)
    if (opts === null || typeof opts !== 'object') throw invalid(`options must be an object, got ${v.describe(opts)}`)
    const expected = opts.expectedVersion
    if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0)) {
      throw invalid(`expectedVersion must be a non-negative integer, got ${v.describe(expected)}`)
    }
    const args = [step, payload, this._ttlMs, new Date().toISOString(), expected === undefined ? '' : String(expected)]
    return this._client._script('drafts_save', [key], args, (reply) => {
      if (typeof reply === 'number') {
        throw new FerroError('ERR_DRAFT_CONFLICT', `draft ${JSON.stringify(id)} is at version ${reply}, not ${expected}`)
      }
      return toDraft(id, reply[1], reply[0])
    })
  }

  /** HGETALL and TTL, issued together: one round trip. Does not refresh the TTL. */
  async get(id) {
    const key = this._key(id)
    const [fields, ttl] = await Promise.all([this._client._cmd(['HGETALL', key]), this._client._cmd(['TTL', key])])
    return toDraft(id, fields, ttl)
  }

  async discard(id) {
    return this._client._cmd(['DEL', this._key(id)], undefined, (n) => n > 0)
  }

  /** Reads and deletes in one MULTI: of concurrent callers, exactly one gets the draft. */
  async complete(id) {
    const key = this._key(id)
    return this._client._transaction([['TTL', key], ['HGETALL', key], ['DEL', key]], (r) => toDraft(id, r[1], r[0]))
  }

  _key(id) {
    return this._base + v.checkKey(id, 'id')
  }
}

/** A draft from its HGETALL reply (flat field/value pairs), or null when there is none. */
function toDraft(id, fields, ttl) {
  if (fields.length === 0) return null
  // TTL -2: the draft expired between the two reads of `get`.
  const draft = { id, steps: {}, version: 0, updatedAt: '', expiresInSeconds: ttl === -2 ? 0 : ttl }
  for (let i = 0; i < fields.length; i += 2) {
    const name = String(fields[i])
    const value = fields[i + 1]
    if (name === '_version') draft.version = Number(value)
    else if (name === '_updatedAt') draft.updatedAt = String(value)
    else if (!name.startsWith('_')) draft.steps[name] = v.deserialize(value)
  }
  return draft
}

module.exports = { Drafts }
