'use strict'
// PLACEHOLDER: being written (issue 4).
class RateLimiter {
  constructor() {
    throw new Error('RateLimiter is not implemented yet')
  }
}
module.exports = { RateLimiter }
