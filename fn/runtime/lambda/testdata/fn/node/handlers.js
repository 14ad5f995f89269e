// Node handlers for the bootstrap tests, one per export; the tests pick one
// through _HANDLER (Config.Handler), e.g. "handlers.async".
'use strict';

exports.async = async (event, context) => ({ via: 'async', event, requestId: context.awsRequestId });
exports.callback = (event, context, callback) => callback(null, { via: 'callback' });
exports.done = (event, context) => context.done(null, { via: 'done' });
exports.succeed = (event, context) => context.succeed({ via: 'succeed' });
exports.fail = (event, context) => context.fail(new Error('failed via fail'));
exports.callbackError = (event, context, callback) => callback('no handler for GET /nope');
exports.throws = () => {
  throw new TypeError('thrown synchronously');
};
exports.rejects = async () => {
  throw new RangeError('rejected');
};
exports.undef = async () => undefined;
exports.unhandled = (event, context, callback) => {
  Promise.reject(new Error('nobody waits for me'));
  setTimeout(() => callback(null, 'too late'), 1000);
};
exports.uncaught = (event, context, callback) => {
  setTimeout(() => {
    throw new Error('thrown from a timer');
  }, 0);
  setTimeout(() => callback(null, 'too late'), 1000);
};
// wait answers at once through the callback but leaves a 1 s timer
// behind: with callbackWaitsForEmptyEventLoop (the default) the answer
// waits for it; with the flag false it does not.
exports.wait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => {}, 1000);
  callback(null, { waited: event.wait });
};
exports.context = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memoryLimitInMB: context.memoryLimitInMB,
  invokedFunctionArn: context.invokedFunctionArn,
  remaining: context.getRemainingTimeInMillis(),
  clientContext: context.clientContext,
  logGroupName: context.logGroupName,
  wait: context.callbackWaitsForEmptyEventLoop,
  env: Object.keys(process.env).sort(),
});
exports.nested = { deeper: async () => 'nested' };
exports.log = async (event) => {
  console.log('hello from node');
  console.error('and stderr');
  return 'logged';
};
