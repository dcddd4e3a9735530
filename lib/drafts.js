'use strict'
// PLACEHOLDER: being written (issue 4).
class Drafts {
  constructor() {
    throw new Error('Drafts is not implemented yet')
  }
}
module.exports = { Drafts }
