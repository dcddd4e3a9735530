'use strict'
// The health report the Express handler and the NestJS indicator share.

const { invalid } = require('../errors')
const { describe } = require('../values')

function checkClient(client) {
  if (client === null || typeof client !== 'object' || typeof client.health !== 'function') {
    throw invalid(`client must be a ferrocache Client, got ${describe(client)}`)
  }
  return client
}

/**
 * `{ status, redis, latencyMs, timestamp }` and whether the app is up: a slow backend
 * (`degraded`) still serves, an unreachable or closed one (`unhealthy`) does not.
 */
async function healthReport(client) {
  const h = await client.health()
  const up = h.status !== 'unhealthy'
  return { up, report: { status: h.status, redis: up ? 'up' : 'down', latencyMs: h.latencyMs, timestamp: h.timestamp } }
}

module.exports = { checkClient, healthReport }
