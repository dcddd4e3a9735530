'use strict'
// `healthHandler(client)`: a route handler answering the client's health,
// 200 while the backend answers, 503 when it does not.

const { checkClient, healthReport } = require('../http/health')

function healthHandler(client) {
  checkClient(client)
  return async function ferroHealth(req, res, next) {
    let r
    try {
      r = await healthReport(client)
    } catch (err) {
      return next(err)
    }
    res.setHeader('Cache-Control', 'no-store')
    res.status(r.up ? 200 : 503).json(r.report)
  }
}

module.exports = { healthHandler }
