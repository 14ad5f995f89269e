'use strict'
// The Moleculer side of bench/mesh: one node serving calculator.add over
// Moleculer's NATS transporter, the peer of a Stoa provider.
//   node mesh-moleculer-service.js NATS_URL
// Prints "ready" once the broker has started; stops on SIGTERM.
// Needs Node >= 22 and the packages of mesh/package.json (npm ci there).
const path = require('path')
const load = require('module').createRequire(path.join(__dirname, 'mesh', 'package.json'))
const { ServiceBroker } = load('moleculer')

const broker = new ServiceBroker({
  nodeID: 'provider-' + process.pid,
  transporter: process.argv[2],
  logger: { type: 'Console', options: { level: 'warn' } },
})
broker.createService({
  name: 'calculator',
  actions: {
    add (ctx) {
      const [a, b] = ctx.params.operands
      return { result: a + b }
    },
  },
})
broker.start().then(() => console.log('ready'))
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => broker.stop().then(() => process.exit(0)))
