'use strict'
// The request and response of a guard's HTTP context (Express or Fastify).

const { invalid } = require('../errors')

/** `{ req, res }` of an HTTP context; a FerroError for any other (WebSocket, microservice). */
function httpOf(context, decorator) {
  if (context.getType() !== 'http') {
    throw invalid(`@${decorator} applies to HTTP controllers only, not to a '${context.getType()}' context`)
  }
  const http = context.switchToHttp()
  return { req: http.getRequest(), res: http.getResponse() }
}

function setHeader(res, name, value) {
  if (typeof res.setHeader === 'function') res.setHeader(name, value)
  else res.header(name, value) // Fastify's reply
}

module.exports = { httpOf, setHeader }
