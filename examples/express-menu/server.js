'use strict'
// `node examples/express-menu/server.js` (or `npm run demo`): the menu API on
// memory:// (no Redis server needed), or on the Redis at REDIS_URL.

const { createClient } = require('ferrocache')
const { createApp } = require('./app')
const { createDb } = require('./db')

async function main() {
  const url = process.env.REDIS_URL || 'memory://'
  const redis = await createClient({ url, keyPrefix: 'menu-api:' })
  const app = createApp({ redis, db: createDb(), secret: process.env.JWT_SECRET || 'demo-secret-change-me' })
  const port = Number(process.env.PORT || 3000)
  const server = app.listen(port, () => {
    const base = `http://localhost:${server.address().port}`
    console.log(`menu API on ${base} (${url === 'memory://' ? 'memory://, no Redis server; set REDIS_URL for one' : url})

Try:
  curl -i ${base}/api/menu                 # X-Cache: MISS, then HIT
  TOKEN=$(curl -s -X POST ${base}/api/login -H 'Content-Type: application/json' \\
    -d '{"username":"chef","password":"secret"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
  curl -i -X POST ${base}/api/dishes -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' -d '{"name":"Gnocchi","price":11,"section":"pasta"}'
  curl -i ${base}/api/menu                 # MISS again: the write invalidated menu:*
  curl -i -X POST ${base}/api/logout -H "Authorization: Bearer $TOKEN"
  curl -i ${base}/api/me -H "Authorization: Bearer $TOKEN"   # 401: revoked
  for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code} ' -X POST ${base}/api/login; done   # ... 429
  curl -i ${base}/api/health

Ctrl-C stops it.`)
  })

  const stop = () => {
    server.close(() => redis.close().then(() => process.exit(0)))
    server.closeAllConnections()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
