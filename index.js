'use strict'
// ferrocache: the public entry. The client lives in lib/, over the native
// binding that lib/native.js loads for this platform.

const { createClient } = require('./lib/client')
const { FerroError } = require('./lib/errors')
const { key, TTL } = require('./lib/keys')

module.exports = { createClient, FerroError, key, TTL }
