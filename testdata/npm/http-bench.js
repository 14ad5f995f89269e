// The Seneca side of bench/http: Seneca client -> Seneca listener over HTTP
// on loopback, default transport options, in two processes.
//
//   node http-bench.js listen
//     starts a listener on 127.0.0.1 (a free port) with role:math,cmd:sum and
//     prints {"port":N,"version":"3.38.0"}; it runs until killed.
//   node http-bench.js load PORT INFLIGHT SECONDS WARMUP
//     acts {role:'math',cmd:'sum',left:1,right:2} on PORT: WARMUP acts one at a
//     time, then INFLIGHT acts outstanding for SECONDS; checks every reply and
//     prints {"acts","errors","seconds","acts_per_s","p50_ms","p99_ms","reply","version"}.
'use strict'
const Http = require('http')
const Seneca = require('seneca')

const [mode, port, inflight, seconds, warmup] = process.argv.slice(2)

if (mode === 'listen') {
  const s = Seneca({ log: 'silent' })
  s.add('role:math,cmd:sum', function (msg, reply) {
    reply({ answer: msg.left + msg.right })
  })
  s.listen({ port: 0, host: '127.0.0.1' })
  s.ready(() => {
    let p = 0
    for (const h of process._getActiveHandles()) {
      if (h instanceof Http.Server && h.address()) p = h.address().port
    }
    process.stdout.write(JSON.stringify({ port: p, version: s.version }) + '\n')
  })
} else if (mode === 'load') {
  const s = Seneca({ log: 'silent' }).client({ port: +port, host: '127.0.0.1' })
  s.ready(async () => {
    let last = null
    const one = () =>
      new Promise((done) => {
        const t = process.hrtime.bigint()
        s.act({ role: 'math', cmd: 'sum', left: 1, right: 2 }, (err, out) => {
          const ms = Number(process.hrtime.bigint() - t) / 1e6
          const ok = !err && out && out.answer === 3
          if (ok) last = out
          done([ok, ms])
        })
      })
    for (let i = 0; i < +warmup; i++) await one()
    const lat = []
    let errors = 0
    const t0 = process.hrtime.bigint()
    const end = Date.now() + +seconds * 1000
    async function worker() {
      while (Date.now() < end) {
        const [ok, ms] = await one()
        if (ok) lat.push(ms)
        else errors++
      }
    }
    await Promise.all(Array.from({ length: +inflight }, worker))
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    lat.sort((a, b) => a - b)
    const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0)
    process.stdout.write(
      JSON.stringify({
        acts: lat.length, errors, seconds: secs, acts_per_s: lat.length / secs,
        p50_ms: pct(0.5), p99_ms: pct(0.99), reply: last, version: s.version,
      }) + '\n',
      () => s.close(() => process.exit(0)),
    )
  })
} else {
  console.error('usage: node http-bench.js listen | load PORT INFLIGHT SECONDS WARMUP')
  process.exit(2)
}
