'use strict'
// `ferrocache/nestjs`: the implementation lives in lib/nestjs/.
module.exports = require('./lib/nestjs')
