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

/** Rebuilds a FerroError from a native exception (`CODE: message`). */
function fromNative(err) {
  const m = /^(ERR_[A-Z_]+): ([\s\S]*)$/.exec(err && err.message)
  return m ? new FerroError(m[1], m[2]) : new FerroError('ERR_REDIS', String(err && err.message))
}

module.exports = { FerroError, invalid, fromNative }
