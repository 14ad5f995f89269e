// Oracle for TestJsonicAgainstSeneca (jsonic_test.go): parses each input
// with the parser Seneca uses (seneca.util.Jsonic, jsonic 2.16.0).
// stdin: a JSON array of strings. stdout: a JSON array, one entry per
// input: {"ok":<value>} (the value after JSON.stringify), {"undef":true}
// when jsonic returns undefined, or {"err":"<code>"}.
'use strict'
const Jsonic = require('seneca')({ log: 'silent' }).util.Jsonic

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (d) => (input += d))
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((src) => {
    try {
      const v = Jsonic(src)
      if (undefined === v) return { undef: true }
      return { ok: JSON.parse(JSON.stringify(v)) }
    } catch (e) {
      return { err: String(e.code || e.name || 'error') }
    }
  })
  // Exit once the output is flushed (a pipe write is asynchronous; the
  // Seneca instance would otherwise keep the process alive).
  process.stdout.write(JSON.stringify(out), () => process.exit(0))
})
