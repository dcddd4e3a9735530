'use strict'
// `ferrocache/express`: the implementation lives in lib/express/.
module.exports = require('./lib/express')
