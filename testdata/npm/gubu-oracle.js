// Differential oracle for rules.go: real gubu, called as Seneca 3.38 calls it
// for the rule keys of an added pattern, Gubu(Open(rules))(msg).
// stdin: JSON array of [shape, msg]. In a shape, the strings "$Number",
// "$String", "$Boolean", "$Object" and "$Array" stand for those functions.
// stdout: JSON array, one per pair, of {"ok": output} or
// {"err": first failing path, "paths": [every failing path], "msg": message}.
'use strict'
const { Gubu, Open } = require('gubu')
const FN = { $Number: Number, $String: String, $Boolean: Boolean, $Object: Object, $Array: Array }
const rule = (v) =>
  'string' === typeof v && FN[v] ? FN[v]
    : Array.isArray(v) ? v.map(rule)
    : null != v && 'object' === typeof v ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rule(x)]))
    : v
const pairs = JSON.parse(require('fs').readFileSync(0, 'utf8'))
const out = pairs.map(([shape, msg]) => {
  try {
    return { ok: Gubu(Open(rule(shape)))(msg) }
  } catch (e) {
    if (!e.gubu) return { compile: e.message }
    const paths = e.props.map((p) => p.path)
    return { err: paths[0], paths, msg: e.message }
  }
})
process.stdout.write(JSON.stringify(out) + '\n')
