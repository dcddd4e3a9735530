'use strict'
// A @nestjs/terminus (11+) health indicator: `() => ferroHealth.isHealthy('redis')`
// in a HealthCheckService check. It returns a `down` result rather than
// throwing, which terminus 11 reports as an error; terminus is not imported.

const { Inject, Injectable } = require('@nestjs/common')
const { healthReport } = require('../http/health')
const { FERRO_CLIENT } = require('./module')

class FerroHealthIndicator {
  constructor(client) {
    this._client = client
  }

  /** `{ [key]: { status: 'up' | 'down', health, latencyMs } }`. */
  async isHealthy(key = 'redis') {
    const { up, report } = await healthReport(this._client)
    return { [key]: { status: up ? 'up' : 'down', health: report.status, latencyMs: report.latencyMs } }
  }
}

Inject(FERRO_CLIENT)(FerroHealthIndicator, undefined, 0)
Injectable()(FerroHealthIndicator)

module.exports = { FerroHealthIndicator }
