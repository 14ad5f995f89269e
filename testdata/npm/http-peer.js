// Real Seneca on both ends of the HTTP transport, for stoahttp's interop tests.
//
//   node http-peer.js
//
// It starts a Seneca listener on 127.0.0.1 on a free port, with the patterns
// below, and prints one line: {"port":N,"id":"<instance id>","version":"3.38.0"}.
// Then it reads requests from stdin, one JSON object a line, answers each with
// one JSON line on stdout, and exits when stdin closes:
//
//   {"port":P,"msg":{...}|"jsonic","timeout":ms,"transportTimeout":ms}
//     acts msg through a Seneca client of 127.0.0.1:P (one Seneca instance per
//     port and timeouts, made on first use; timeout is Seneca's act timeout,
//     transportTimeout the client's HTTP timeout), and answers
//     {"ms":elapsed,"err":{...}|null,"out":result|null}; err has message, code
//     and, for an HTTP error, data.payload (the listener's JSON) and statusCode.
'use strict'

const Http = require('http')
const Readline = require('readline')
const Seneca = require('seneca')

const listener = Seneca({ log: 'silent' })
listener.add('role:hello,cmd:sayHello', function (msg, reply) {
  reply({ message: 'Hello ' + (msg.name || 'World') })
})
listener.add('role:test,cmd:echo', function (msg, reply, meta) {
  const seen = {}
  Object.keys(msg).forEach((k) => (seen[k] = msg[k]))
  reply({ seen: seen, meta_id: meta && meta.id, meta_tx: meta && meta.tx })
})
listener.add('role:test,cmd:fail', function (msg, reply) {
  reply(new Error('handler failed'))
})
listener.add('role:test,cmd:failcode', function (msg, reply) {
  const e = new Error('not allowed')
  e.code = 'forbidden_thing'
  e.statusCode = 403
  reply(e)
})
listener.add('role:test,cmd:slow', function (msg, reply) {
  setTimeout(() => reply({ slow: true }), +msg.ms || 30000)
})
listener.add('role:test,cmd:array', function (msg, reply) {
  reply([1, 2, 3])
})
listener.add('role:test,cmd:empty', function (msg, reply) {
  reply()
})

// The port Node chose: Seneca does not say, so ask the one HTTP server.
function listeningPort() {
  for (const h of process._getActiveHandles()) {
    if (h instanceof Http.Server && h.address()) return h.address().port
  }
  return 0
}

// An error as plain JSON: no sockets, no circular references, no stacks.
function plain(err) {
  if (!err) return null
  const out = { message: err.message, code: err.code }
  if (err.data && err.data.payload !== undefined) out.data = { payload: err.data.payload }
  if (err.output && err.output.statusCode) out.statusCode = err.output.statusCode
  if (err.details && err.details.timeout) out.timeout = err.details.timeout
  return out
}

const clients = new Map()
function client(req) {
  const key = [req.port, req.timeout || 0, req.transportTimeout || 0].join('/')
  if (!clients.has(key)) {
    const opts = { log: 'silent' }
    if (req.timeout) opts.timeout = req.timeout
    const copts = { port: req.port, host: '127.0.0.1' }
    if (req.transportTimeout) copts.timeout = req.transportTimeout
    clients.set(key, Seneca(opts).client(copts))
  }
  return clients.get(key)
}

listener.listen({ port: 0, host: '127.0.0.1' })
listener.ready(function () {
  process.stdout.write(JSON.stringify({ port: listeningPort(), id: listener.id, version: listener.version }) + '\n')
  const rl = Readline.createInterface({ input: process.stdin })
  // Requests are answered in order, one at a time.
  let chain = Promise.resolve()
  rl.on('line', (line) => {
    if (!line.trim()) return
    chain = chain.then(
      () =>
        new Promise((done) => {
          const req = JSON.parse(line)
          const c = client(req)
          c.ready(() => {
            const t0 = Date.now()
            c.act(req.msg, function (err, out) {
              const res = { ms: Date.now() - t0, err: plain(err), out: out === undefined ? null : out }
              process.stdout.write(JSON.stringify(res) + '\n', done)
            })
          })
        }),
    )
  })
  rl.on('close', () => chain.then(() => process.exit(0)))
})
