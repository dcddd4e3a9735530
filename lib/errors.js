'use strict'

/** Every rejection of this library: branch on `code`, not on the message. */
class FerroError extends Error {
  constructor(code, message) {
    super(message)
    this.name = 'FerroError'
    this.code = code
  }
}

const invalid = (message) => new FerroError('ERR_INVALID_ARGUMENT', message)

/**
 * A FerroError from an exception the addon threw: its code travels as `err.code` (src/error.rs).
 * One without a FerroError code is Node-API's own, a JS value the addon could not convert:
 * a bad argument.
 */
function fromNative(err) {
  const code = typeof err?.code === 'string' && err.code.startsWith('ERR_') ? err.code : 'ERR_INVALID_ARGUMENT'
  return new FerroError(code, String(err?.message ?? err))
}

module.exports = { FerroError, invalid, fromNative }
