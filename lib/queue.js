'use strict'
// PLACEHOLDER: being written (issue 4).
class Queue {
  constructor() {
    throw new Error('Queue is not implemented yet')
  }
}
module.exports = { Queue }
