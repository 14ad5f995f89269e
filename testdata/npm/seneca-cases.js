#!/usr/bin/env node
// Runs matching cases through real Seneca (the pinned npm package) and
// prints what each one answered. Stoa's differential test (stoa package,
// differential_test.go) feeds it the same table it runs through the Go
// engine and fails on any difference.
//
// stdin:  JSON array of {adds:[pattern…], act:msg, prior?:bool, options?:{…}}
//         (a pattern or message is a jsonic string or a JSON object)
// stdout: JSON array of {answer, chain}: answer is the index of the add whose
//         action replied, "not_found", "error:<code>", "add_error:<code>" or
//         null (an action replied null); chain lists the actions visited
//         through prior, the answering one first.
'use strict'
const Seneca = require('seneca')

function runCase (c) {
  return new Promise((resolve) => {
    const s = Seneca(Object.assign({ log: 'silent' }, c.options || {}))
    let settled = false
    const settle = (out) => {
      if (settled) return
      settled = true
      s.close(() => resolve(out))
    }
    try {
      c.adds.forEach((pat, i) => {
        s.add(pat, function action (msg, reply) {
          if (!c.prior) return reply({ i, chain: [i] })
          this.prior(msg, (err, out) => {
            if (err) return reply(err)
            reply({ i, chain: [i].concat((out && out.chain) || []) })
          })
        })
      })
    } catch (e) {
      return settle({ answer: 'add_error:' + (e.code || 'unknown'), chain: null })
    }
    const timer = setTimeout(() => settle({ answer: 'runner_timeout', chain: null }), 30000)
    s.act(c.act, (err, out) => {
      clearTimeout(timer)
      if (err) {
        return settle({ answer: err.code === 'act_not_found' ? 'not_found' : 'error:' + err.code, chain: null })
      }
      settle({ answer: out ? out.i : null, chain: out ? out.chain : null })
    })
  })
}

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (d) => { input += d })
process.stdin.on('end', async () => {
  // Each case has its own instance, so cases run several at a time; not all
  // at once, which on a loaded machine starves the timers.
  const cases = JSON.parse(input)
  const out = new Array(cases.length)
  let next = 0
  const lane = async () => {
    while (next < cases.length) {
      const i = next++
      out[i] = await runCase(cases[i])
    }
  }
  await Promise.all(Array.from({ length: 8 }, lane))
  process.stdout.write(JSON.stringify(out))
})
