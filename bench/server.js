'use strict'
// A throwaway redis-server for one benchmark run: a free loopback port (never
// 6379), nothing on disk, its own directory, stopped by its pid (never by name).

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const BIN = process.env.FERRO_REDIS_SERVER_BIN || 'redis-server'
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** A loopback port nothing listens on right now (never 6379). */
async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer()
      srv.once('error', reject)
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address()
        srv.close(() => resolve(port))
      })
    })
    if (port !== 6379) return port
  }
}

/** One raw PING; true on +PONG. Never throws. */
function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    const done = (ok) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), 500)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (d) => done(d.toString('latin1').startsWith('+PONG')))
    socket.once('error', () => done(false))
  })
}

function version() {
  const out = execFileSync(BIN, ['--version'], { encoding: 'utf8' })
  const m = /v=(\S+)/.exec(out)
  return m ? m[1] : out.trim()
}

/** Starts the server; resolves { url, port, pid, version, stop() } once it answers PING. */
async function startServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferro-bench-redis-'))
  const port = await freePort()
  const log = fs.openSync(path.join(dir, 'redis.log'), 'a')
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
  const child = spawn(BIN, args, { cwd: dir, stdio: ['ignore', log, log] })
  fs.closeSync(log)
  let exited = false
  const exit = new Promise((resolve) => {
    child.once('exit', () => resolve((exited = true)))
    child.once('error', () => resolve((exited = true)))
  })
  child.unref()
  // Whatever way this process ends (an uncaught error included), the server goes with it.
  const onExit = () => {
    if (!exited) child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', onExit)

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM')
      const gone = await Promise.race([exit, sleep(5000).then(() => false)])
      if (!gone) child.kill('SIGKILL')
      await exit
    }
    fs.rmSync(dir, { recursive: true, force: true })
    process.removeListener('exit', onExit)
  }

  const deadline = Date.now() + 10000
  while (!(await ping(port))) {
    if (exited || Date.now() > deadline) {
      const text = fs.existsSync(path.join(dir, 'redis.log')) ? fs.readFileSync(path.join(dir, 'redis.log'), 'utf8') : ''
      await stop()
      throw new Error(`redis-server on port ${port} did not start:\n${text.slice(-2000)}`)
    }
    await sleep(50)
  }
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid, version: version(), stop }
}

module.exports = { startServer }
