'use strict'
// Run by worker.spec.ts: a client used in a worker thread that ends with the client closed, left
// open, or by process.exit() inside the worker. Node aborts the whole process if the worker's
// event loop still holds a handle of ours when it closes.
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads')

if (isMainThread) {
  const [mode, url] = process.argv.slice(2)
  const worker = new Worker(__filename, { workerData: { mode, url } })
  worker.on('message', (m) => console.log(`worker read ${m}`))
  worker.on('error', (e) => console.log(`worker error ${e.message}`))
  worker.on('exit', (code) => console.log(`worker exit ${code}`))
} else {
  const { createClient } = require('..')
  ;(async () => {
    const { mode, url } = workerData
    const c = await createClient({ url, keyPrefix: `worker:${process.pid}:` })
    await c.set('k', 'v')
    parentPort.postMessage(await c.get('k'))
    if (mode === 'close') await c.close()
    if (mode === 'exit') process.exit(0)
  })()
}
