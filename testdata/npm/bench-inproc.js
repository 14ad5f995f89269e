#!/usr/bin/env node
// The Seneca half of Stoa's in-process comparison (package inprocbench in
// bench/inproc runs it next to the same loop in Stoa): real Seneca, the
// pinned npm package, one instance, the 2-key pattern role:math,cmd:sum and
// the message {role:'math',cmd:'sum',left:1,right:2}, acted N times one
// after another, each act started from the previous one's callback. A
// warm-up of W acts runs first and is not timed; neither are Node's start
// and Seneca's own.
//
// usage:  node bench-inproc.js N [W]
// stdout: one JSON line {acts, seconds, acts_per_s, reply, version}: reply
//         is the last act's reply, version Seneca's. Every reply is checked
//         ({answer: 3}); a wrong one or an error ends the script with
//         status 1 before it prints.
'use strict'
const Seneca = require('seneca')

const N = parseInt(process.argv[2], 10)
const W = parseInt(process.argv[3] || '5000', 10)
if (!(N > 0) || !(W >= 0)) {
  console.error('usage: node bench-inproc.js N [W]  (N > 0 acts, W >= 0 warm-up acts)')
  process.exit(2)
}

const seneca = Seneca({ log: 'silent' })
seneca.add('role:math,cmd:sum', function (msg, reply) {
  reply({ answer: msg.left + msg.right })
})

function fail (err) {
  console.error('bench-inproc:', err && err.stack ? err.stack : err)
  process.exit(1)
}

// loop acts n times in sequence and calls done with the last reply.
// Seneca calls back asynchronously, so the stack does not grow.
function loop (n, done) {
  let i = 0
  let last = null
  function next () {
    if (i === n) return done(last)
    i++
    seneca.act({ role: 'math', cmd: 'sum', left: 1, right: 2 }, function (err, out) {
      if (err) return fail(err)
      if (!out || out.answer !== 3) return fail(new Error('wrong reply: ' + JSON.stringify(out)))
      last = out
      next()
    })
  }
  next()
}

seneca.ready(function (err) {
  if (err) return fail(err)
  loop(W, function () {
    const t0 = process.hrtime.bigint()
    loop(N, function (reply) {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      process.stdout.write(JSON.stringify({ acts: N, seconds, acts_per_s: N / seconds, reply, version: seneca.version }) + '\n')
      seneca.close(function () { process.exit(0) })
    })
  })
})
