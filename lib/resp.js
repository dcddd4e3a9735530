'use strict'
// RESP request encoding, on the JS side: a whole batch crosses into Rust as
// one string (or one Buffer when a command carries binary arguments), instead
// of one native value per argument.

const CRLF = '\r\n'

/** Appends the RESP array of `args` (strings or Buffers) to `out.text`, or to `out.parts` once binary. */
function encodeInto(out, args) {
  let s = '*' + args.length + CRLF
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (typeof a === 'string') {
      s += '$' + Buffer.byteLength(a) + CRLF + a + CRLF
    } else {
      // Binary argument: from here on the batch is assembled as Buffers.
      if (out.parts === null) out.parts = out.text.length > 0 ? [Buffer.from(out.text)] : []
      out.parts.push(Buffer.from(s + '$' + a.length + CRLF), a, Buffer.from(CRLF))
      s = ''
    }
  }
  if (out.parts === null) out.text += s
  else if (s.length > 0) out.parts.push(Buffer.from(s))
}

/** A batch being assembled: `payload()` is the string, or the Buffer when binary. */
class Batch {
  constructor() {
    this.text = ''
    this.parts = null
  }

  payload() {
    return this.parts === null ? this.text : Buffer.concat(this.parts)
  }
}

module.exports = { Batch, encodeInto }
