'use strict'
// The JS half of the bridge (see src/bridge/mod.rs): commands issued in one
// microtask are RESP-encoded here and handed to Rust in one synchronous
// `submit`; Rust wakes us when results are ready and we settle every ready
// promise from one synchronous `drain`.

const { FerroError } = require('./errors')
const { constant } = require('./native')
const { Batch, encodeInto } = require('./resp')

const TEXT = 0
const BYTES = 1

/** Command ids run through 1..SPAN (consecutive within a batch; Rust wraps them alike); op ids above. */
const SPAN = constant('COMMAND_ID_SPAN')
const OP_BASE = SPAN + 1
/**
 * A batch is handed to Rust (and written to the socket) once it holds this many commands, without
 * waiting for the end of the microtask: Redis starts on the first commands while JS is still
 * issuing the next ones, instead of client and server taking turns.
 */
const MAX_BATCH = 16
/** Kinds of a drained result, as src/bridge/mod.rs numbers them. */
const K_TEXT = constant('RESULT_TEXT')
const K_INT = constant('RESULT_INT')
const K_NULL = constant('RESULT_NULL')
const K_ERROR = constant('RESULT_ERROR')
const K_EXTRA = constant('RESULT_EXTRA')
const K_EVENT = constant('RESULT_EVENT')

/**
 * Transports with requests in flight. Rust reaches a client only weakly (`wakeWeakly` in
 * client.js), so this set is what keeps a client alive, even one the app has dropped, until its
 * replies have come and its promises have settled. An idle client is held by nothing of ours: one
 * dropped without close() is collected, and its native finalizer closes its connections.
 */
const busy = new Set()
/**
 * The native wake-up is weak: Node may exit while nothing is pending. This one timer of the
 * process is ref'd only while some request is in flight, so a pending promise is never lost at exit
 * and idle clients never hold the process open. (A timer per client would be a GC root of its
 * client: an active timer stays in Node's lists, ref'd or not.)
 */
let keepAlive = null

function hold(transport) {
  if (busy.size === 0) {
    if (keepAlive === null) keepAlive = setInterval(() => {}, 1 << 30)
    keepAlive.ref()
  }
  busy.add(transport)
}

function release(transport) {
  if (busy.delete(transport) && busy.size === 0) keepAlive.unref()
}

class Transport {
  constructor(native, onEvent) {
    this.native = native
    this.onEvent = onEvent
    this.nextSeq = 1
    this.nextOp = 0
    this.pending = new Map()
    this.batch = null
    this.batchFirst = 0
    this.batchCount = 0
    this.batchBytes = null
    this.idleWaiters = []
    /** > 0 while a transaction is being queued: MULTI ... EXEC must not be split. */
    this.holding = 0
    this.flush = () => this._flush()
  }

  /** Queues one command for this microtask's batch. */
  command(args, decode = TEXT, transform) {
    return new Promise((resolve, reject) => {
      if (this.batch === null) {
        this.batch = new Batch()
        this.batchFirst = this.nextSeq
        queueMicrotask(this.flush)
      }
      const id = this.nextSeq
      this.nextSeq = id === SPAN ? 1 : id + 1
      if (decode === BYTES) (this.batchBytes || (this.batchBytes = [])).push(this.batchCount)
      this.batchCount++
      encodeInto(this.batch, args)
      this._track(id, resolve, reject, transform)
      if (this.batchCount >= MAX_BATCH && this.holding === 0) this._flush()
    })
  }

  /** Starts a native procedure that completes under its own request id. */
  op(start, transform) {
    return new Promise((resolve, reject) => {
      const id = OP_BASE + this.nextOp
      this.nextOp = (this.nextOp + 1) % SPAN
      this._track(id, resolve, reject, transform)
      try {
        start(id)
      } catch (err) {
        this._settle(id, 'ERR_INVALID_ARGUMENT', err.message)
      }
    })
  }

  _track(id, resolve, reject, transform) {
    if (this.pending.size === 0) hold(this)
    this.pending.set(id, { resolve, reject, transform })
  }

  _flush() {
    const { batch, batchFirst, batchCount, batchBytes } = this
    if (batch === null) return
    this.batch = null
    this.batchCount = 0
    this.batchBytes = null
    try {
      this.native.submit(batch.payload(), batchCount, batchFirst, batchBytes)
    } catch (err) {
      for (let i = 0; i < batchCount; i++) this._settle(((batchFirst - 1 + i) % SPAN) + 1, 'ERR_INVALID_ARGUMENT', err.message)
    }
  }

  /**
   * Called by Rust when results are ready: through the threadsafe function (then we drain), or
   * from the event-loop reader with the drained results. They are packed (src/bridge/mod.rs
   * `Drained`): `meta` holds [id, kind, len] per result; strings and integers are slices of
   * `blob`; other values, errors and events come from `extra`, in order.
   */
  wake(drained) {
    const [meta, blob, extra] = drained === undefined ? this.native.drain() : drained
    let at = 0
    let x = 0
    for (let i = 0; i < meta.length; i += 3) {
      const id = meta[i]
      switch (meta[i + 1]) {
        case K_TEXT: {
          const end = at + meta[i + 2]
          this._settle(id, null, blob.slice(at, end))
          at = end
          break
        }
        case K_INT: {
          const end = at + meta[i + 2]
          this._settle(id, null, Number(blob.slice(at, end)))
          at = end
          break
        }
        case K_NULL:
          this._settle(id, null, null)
          break
        case K_ERROR: {
          const [code, message] = extra[x++]
          this._settle(id, code, message)
          break
        }
        case K_EXTRA:
          this._settle(id, null, extra[x++])
          break
        case K_EVENT: {
          const [name, payload] = extra[x++]
          this.onEvent(name, payload)
          break
        }
      }
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
      release(this)
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
  }

  /** Resolves once no request is in flight. */
  idle() {
    if (this.pending.size === 0 && this.batch === null) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  close() {
    release(this)
  }
}

module.exports = { Transport, TEXT, BYTES }
