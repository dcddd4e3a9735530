'use strict'
// PLACEHOLDER: being written (issue 4).
class TokenBlacklist {
  constructor() {
    throw new Error('TokenBlacklist is not implemented yet')
  }
}
module.exports = { TokenBlacklist }
