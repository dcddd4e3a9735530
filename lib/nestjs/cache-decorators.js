'use strict'
// @Cacheable, @CacheEvict, @CachePut: method decorators for any class Nest
// creates (providers and controllers, in any scope). Each declares a property
// injection of FERRO_CLIENT on its class, so Nest hands every instance the
// client of its own application; an instance Nest did not create (or an app
// without FerroModule) makes the decorated method reject with a FerroError
// instead of silently skipping the cache. Decorated methods return promises.

const { Inject } = require('@nestjs/common')
const { PROPERTY_DEPS_METADATA } = require('@nestjs/common/constants')
const { FerroError, invalid } = require('../errors')
const { checkKey, cachePolicy, CACHE_POLICY_DEFAULTS, durationMs, describe } = require('../values')
const { FERRO_CLIENT } = require('./module')

/** The instance property Nest fills with the client. */
const CLIENT = Symbol('ferrocache client')
/** Errors of an eviction or a write after the method succeeded that leave the method's result standing. */
const UNAVAILABLE = new Set(['ERR_UNAVAILABLE', 'ERR_TIMEOUT'])
/** The cache options passed through as given (checked at decoration by `cachePolicy`). */
const POLICY = ['jitter', 'grace', 'graceBackoff', 'timeout', 'hardTimeout', 'onLoaderError']

/**
 * `@Cacheable({ key, ttl, tags, ...policy })`: `cache.getOrSet(key(...args), () => method(...args), { ttl, tags, ...policy })`,
 * the policy being the options of POLICY (jitter, grace, loader timeouts).
 */
function Cacheable(opts) {
  const o = options('Cacheable', opts, ['key'])
  return decorate('Cacheable', (site, method) =>
    async function (...args) {
      const client = clientOf(this, site)
      const key = keyOf(site, o.key, args)
      return client.cache.getOrSet(key, () => method.apply(this, args), cacheOptions(site, o, args))
    },
  )
}

/** `@CachePut({ key, ttl, tags, ...policy })`: runs the method, then stores its result under `key(...args)`. */
function CachePut(opts) {
  const o = options('CachePut', opts, ['key'])
  return decorate('CachePut', (site, method) =>
    async function (...args) {
      const client = clientOf(this, site)
      const key = keyOf(site, o.key, args)
      const cacheOpts = cacheOptions(site, o, args)
      const result = await method.apply(this, args)
      await tolerate(client.cache.set(key, result, cacheOpts))
      return result
    },
  )
}

/**
 * `@CacheEvict({ keys, pattern, tags })` (any of the three): runs the method, then deletes
 * `keys`, invalidates `pattern` and `tags`. Nothing is evicted when the method throws.
 */
function CacheEvict(opts) {
  const o = options('CacheEvict', opts, [])
  if (o.keys === undefined && o.pattern === undefined && o.tags === undefined) {
    throw invalid('@CacheEvict needs keys, pattern or tags')
  }
  return decorate('CacheEvict', (site, method) =>
    async function (...args) {
      const client = clientOf(this, site)
      const keys = o.keys === undefined ? [] : listOf(site, 'keys', o.keys, args)
      const pattern = o.pattern === undefined ? undefined : keyOf(site, o.pattern, args, 'pattern')
      const tags = o.tags === undefined ? [] : listOf(site, 'tags', o.tags, args)
      const result = await method.apply(this, args)
      const evictions = []
      if (keys.length > 0) evictions.push(client.cache.delete(keys))
      if (pattern !== undefined) evictions.push(client.cache.invalidate(pattern))
      if (tags.length > 0) evictions.push(client.cache.invalidateTags(tags))
      await Promise.all(evictions.map(tolerate))
      return result
    },
  )
}

function options(name, opts, required) {
  if (opts === null || typeof opts !== 'object') throw invalid(`@${name} needs an options object, got ${describe(opts)}`)
  for (const field of required) if (opts[field] === undefined) throw invalid(`@${name} needs a ${field}`)
  for (const field of ['key', 'pattern']) {
    const v = opts[field]
    if (v !== undefined && typeof v !== 'function') checkKey(v, `@${name} ${field}`)
  }
  for (const field of ['keys', 'tags']) {
    const v = opts[field]
    if (v !== undefined && typeof v !== 'function' && typeof v !== 'string' && !Array.isArray(v)) {
      throw invalid(`@${name} ${field} must be a string, an array of strings or a function of the arguments, got ${describe(v)}`)
    }
  }
  if (opts.ttl !== undefined) durationMs(`@${name} ttl`, opts.ttl)
  cachePolicy(opts, CACHE_POLICY_DEFAULTS, `@${name} `)
  return opts
}

/** A method decorator replacing the method with `wrap(site, method)`, keeping its name and metadata. */
function decorate(name, wrap) {
  return (target, property, descriptor) => {
    if (descriptor === undefined || typeof descriptor.value !== 'function') {
      throw invalid(`@${name} decorates methods only`)
    }
    const method = descriptor.value
    const site = `@${name} on ${target.constructor.name}.${String(property)}`
    const wrapped = wrap(site, method)
    Object.defineProperty(wrapped, 'name', { value: method.name })
    for (const k of Reflect.getMetadataKeys(method)) Reflect.defineMetadata(k, Reflect.getMetadata(k, method), wrapped)
    descriptor.value = wrapped
    injectClient(target)
    return descriptor
  }
}

/** Declares (once per class) the property injection of the client. */
function injectClient(prototype) {
  const declared = Reflect.getMetadata(PROPERTY_DEPS_METADATA, prototype.constructor) || []
  if (!declared.some((p) => p.key === CLIENT)) Inject(FERRO_CLIENT)(prototype, CLIENT)
}

function clientOf(instance, site) {
  const client = instance === null || instance === undefined ? undefined : instance[CLIENT]
  if (client === undefined) {
    throw invalid(
      `${site}: no ferrocache client. Import FerroModule.forRoot(...) (or forRootAsync) in the application ` +
        'and let Nest create this instance: one made with `new` is not injected',
    )
  }
  return client
}

/** `key` or `key(...args)`: a non-empty string, else a FerroError naming the decorated method. */
function keyOf(site, key, args, what = 'key') {
  const k = typeof key === 'function' ? key(...args) : key
  if (typeof k !== 'string' || k.length === 0) {
    throw invalid(`${site}: the ${what} function returned ${describe(k)}; it must return a non-empty string`)
  }
  return k
}

/** `keys` / `tags`, a value or a function of the arguments, as a non-empty list of non-empty strings. */
function listOf(site, what, spec, args) {
  const v = typeof spec === 'function' ? spec(...args) : spec
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw invalid(`${site}: ${what} resolved to ${describe(v)}; it must be a non-empty string or a non-empty array of them`)
  }
  return list
}

function cacheOptions(site, o, args) {
  const opts = {}
  if (o.ttl !== undefined) opts.ttl = o.ttl
  for (const field of POLICY) if (o[field] !== undefined) opts[field] = o[field]
  if (o.tags !== undefined) opts.tags = listOf(site, 'tags', o.tags, args)
  return opts
}

/** Redis being unreachable after the method succeeded does not undo its result. */
async function tolerate(p) {
  try {
    await p
  } catch (err) {
    if (!(err instanceof FerroError) || !UNAVAILABLE.has(err.code)) throw err
  }
}

module.exports = { Cacheable, CacheEvict, CachePut }
