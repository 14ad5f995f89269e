'use strict'
// The Moleculer caller of bench/mesh: the same two loops as the Go callers
// (bench/mesh/meshbench.go): SEQ calls one after another, then 32 calls in
// flight for SECONDS, each call sending the message the Go callers send,
// {"role":"calculator","cmd":"add","operands":[7,3]}. Every reply is
// checked. It prints, on stdout:
//   begin seq / end seq / begin tput / end tput   (the runner samples CPU)
//   {"phase":"seq"|"tput","acts":N,"seconds":S,"p50_us":…,"p99_us":…,"max_us":…}
//   node mesh-moleculer-bench.js NATS_URL SEQ SECONDS
const path = require('path')
const load = require('module').createRequire(path.join(__dirname, 'mesh', 'package.json'))
const { ServiceBroker } = load('moleculer')

const [url, seqArg, secArg] = process.argv.slice(2)
const seqN = +seqArg
const seconds = +secArg
const inFlight = 32
const now = () => process.hrtime.bigint()

const broker = new ServiceBroker({
  nodeID: 'caller-' + process.pid,
  transporter: url,
  logger: { type: 'Console', options: { level: 'warn' } },
})

const call = async () => {
  const r = await broker.call('calculator.add', { role: 'calculator', cmd: 'add', operands: [7, 3] })
  if (!r || r.result !== 10) throw new Error('bad reply ' + JSON.stringify(r))
}

function quantile (sorted, q) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]
}

function report (phase, lat, ns) {
  lat.sort((a, b) => a - b)
  console.log(JSON.stringify({
    phase,
    acts: lat.length,
    seconds: Number(ns) / 1e9,
    p50_us: quantile(lat, 0.5),
    p99_us: quantile(lat, 0.99),
    max_us: quantile(lat, 1), // the slowest act, as the Go callers report it
  }))
}

async function main () {
  await broker.start()
  await broker.waitForServices(['calculator'], 30000)
  console.log('ready')
  for (let i = 0; i < 2000; i++) await call() // warm-up, untimed

  console.log('begin seq')
  let lat = []
  let t0 = now()
  for (let i = 0; i < seqN; i++) {
    const s = now()
    await call()
    lat.push(Number(now() - s) / 1e3)
  }
  const seqNs = now() - t0
  console.log('end seq')
  report('seq', lat, seqNs)

  console.log('begin tput')
  lat = []
  t0 = now()
  const stopAt = t0 + BigInt(Math.round(seconds * 1e9))
  const worker = async () => {
    while (now() < stopAt) {
      const s = now()
      await call()
      lat.push(Number(now() - s) / 1e3)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const tputNs = now() - t0
  console.log('end tput')
  report('tput', lat, tputNs)
  await broker.stop()
}
main().catch((e) => { console.error(e); process.exit(1) })
