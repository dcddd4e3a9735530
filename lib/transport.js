'use strict'
// The JS half of the bridge (see src/bridge.rs): commands issued in one
// microtask go to Rust in one synchronous `submit`; Rust wakes us when results
// are ready and we settle every ready promise from one synchronous `drain`.

const { FerroError } = require('./errors')

const TEXT = 0
const BYTES = 1

class Transport {
  constructor(native, onEvent) {
    this.native = native
    this.onEvent = onEvent
    this.nextId = 1
    this.pending = new Map()
    this.ids = []
    this.decodes = []
    this.cmds = []
    this.flushing = false
    this.idleWaiters = []
    // The native wake-up is weak: Node may exit while nothing is pending. This
    // timer is ref'd only while requests are in flight, so a pending promise is
    // never lost at exit and an idle client never holds the process open.
    this.keepAlive = setInterval(() => {}, 1 << 30)
    this.keepAlive.unref()
    this.flush = () => this._flush()
  }

  /** Queues one command for this microtask's batch. */
  command(args, decode = TEXT, transform) {
    return new Promise((resolve, reject) => {
      const id = this._track(resolve, reject, transform)
      this.ids.push(id)
      this.decodes.push(decode)
      this.cmds.push(args)
      if (!this.flushing) {
        this.flushing = true
        queueMicrotask(this.flush)
      }
    })
  }

  /** Starts a native procedure that completes under its own request id. */
  op(start, transform) {
    return new Promise((resolve, reject) => {
      const id = this._track(resolve, reject, transform)
      try {
        start(id)
      } catch (err) {
        this._settle(id, 'ERR_INVALID_ARGUMENT', err.message)
      }
    })
  }

  _track(resolve, reject, transform) {
    const id = this.nextId
    this.nextId = id >= 0xfffffff0 ? 1 : id + 1
    if (this.pending.size === 0) this.keepAlive.ref()
    this.pending.set(id, { resolve, reject, transform })
    return id
  }

  _flush() {
    this.flushing = false
    const { ids, decodes, cmds } = this
    this.ids = []
    this.decodes = []
    this.cmds = []
    try {
      this.native.submit(ids, decodes, cmds)
    } catch (err) {
      for (const id of ids) this._settle(id, 'ERR_INVALID_ARGUMENT', err.message)
    }
  }

  /** Called by Rust (through the threadsafe function) when results are ready. */
  wake() {
    const out = this.native.drain()
    for (let i = 0; i < out.length; i += 3) {
      if (out[i] === 0) this.onEvent(out[i + 1], out[i + 2])
      else this._settle(out[i], out[i + 1], out[i + 2])
    }
  }

  _settle(id, code, value) {
    const p = this.pending.get(id)
    if (p === undefined) return
    this.pending.delete(id)
    if (code !== null) p.reject(new FerroError(code, value))
    else if (p.transform === undefined) p.resolve(value)
    else {
      try {
        p.resolve(p.transform(value))
      } catch (err) {
        p.reject(err)
      }
    }
    if (this.pending.size === 0) {
      this.keepAlive.unref()
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
  }

  /** Resolves once no request is in flight. */
  idle() {
    if (this.pending.size === 0 && this.cmds.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  close() {
    clearInterval(this.keepAlive)
  }
}

module.exports = { Transport, TEXT, BYTES }
