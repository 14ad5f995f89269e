'use strict';
// Stoa's Node.js runtime client: runs a Lambda handler `dir/file.export` from
// LAMBDA_TASK_ROOT against the Runtime API at AWS_LAMBDA_RUNTIME_API.
// No dependencies. Behaviour (see ../../../../shared/LAMBDA.md, "Node.js runtime"):
//   - the first of promise / callback / context.done / succeed / fail answers;
//   - with a callback (or done/succeed/fail) and
//     context.callbackWaitsForEmptyEventLoop true (the default), the answer is
//     sent once the event loop is empty; false sends it at once;
//   - undefined answers null;
//   - an uncaught exception is posted as the invocation's error, then exit 129;
//     an unhandled rejection as Runtime.UnhandledPromiseRejection, exit 128;
//   - a handler that cannot be loaded is posted to /init/error.

const http = require('http');
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const env = process.env;
const [apiHost, apiPort] = splitHostPort(env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');
const base = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function splitHostPort(s) {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: apiPort, method, path: base + p, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function post(p, obj, extraHeaders) {
  const body = Buffer.from(obj === undefined ? 'null' : JSON.stringify(obj));
  const headers = Object.assign({ 'Content-Type': 'application/json', 'Content-Length': body.length }, extraHeaders);
  return call('POST', p, body, headers);
}

// errorBody turns anything thrown or passed as an error into Lambda's shape.
function errorBody(err, type) {
  if (err instanceof Error || (err && typeof err === 'object' && typeof err.message === 'string' && typeof err.stack === 'string')) {
    return { errorType: type || err.name || 'Error', errorMessage: err.message, trace: String(err.stack || '').split('\n') };
  }
  let message;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err);
  } catch (_) {
    message = String(err);
  }
  return { errorType: type || typeof err, errorMessage: message === undefined ? String(err) : message, trace: [] };
}

class InitError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.name = type;
    if (cause && cause.stack) this.stack = `${type}: ${message}\n${cause.stack}`;
  }
}

async function loadHandler(root, handler) {
  const slash = handler.lastIndexOf('/');
  const dir = handler.slice(0, slash + 1);
  const rest = handler.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) {
    throw new InitError('Runtime.MalformedHandlerName', `Bad handler ${handler}`);
  }
  const modBase = path.resolve(root, dir + rest.slice(0, dot));
  const exportPath = rest.slice(dot + 1).split('.');
  let file;
  for (const ext of ['.js', '.mjs', '.cjs']) {
    if (fs.existsSync(modBase + ext)) {
      file = modBase + ext;
      break;
    }
  }
  if (!file) {
    throw new InitError('Runtime.ImportModuleError', `Error: Cannot find module '${dir + rest.slice(0, dot)}'`);
  }
  let mod;
  try {
    if (file.endsWith('.mjs')) {
      mod = await import(pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (err) {
        if (err && err.code === 'ERR_REQUIRE_ESM') mod = await import(pathToFileURL(file).href);
        else throw err;
      }
    }
  } catch (err) {
    if (err instanceof SyntaxError) throw new InitError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err);
    if (err && err.code === 'MODULE_NOT_FOUND') throw new InitError('Runtime.ImportModuleError', `Error: ${err.message}`, err);
    throw err;
  }
  let fn = mod;
  for (const key of exportPath) fn = fn == null ? undefined : fn[key];
  if (typeof fn !== 'function') {
    throw new InitError('Runtime.HandlerNotFound', `${rest} is undefined or not exported`);
  }
  return fn;
}

// current is the invocation in progress: {id, answered, send(err, result)}.
let current = null;
// onEmpty runs when the event loop has nothing left to do ('beforeExit').
let onEmpty = null;

process.on('beforeExit', () => {
  const f = onEmpty;
  onEmpty = null;
  if (f) f();
});

async function fatal(body, code) {
  const inv = current;
  try {
    if (inv && !inv.answered) {
      inv.answered = true;
      await post(`/invocation/${inv.id}/error`, body);
    } else if (!inv) {
      await post('/init/error', body, { 'Lambda-Runtime-Function-Error-Type': body.errorType });
    }
  } finally {
    process.exit(code);
  }
}

process.on('uncaughtException', (err) => {
  console.error(err);
  fatal(errorBody(err), 129);
});

process.on('unhandledRejection', (reason) => {
  const msg = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  console.error(`Unhandled Promise Rejection: ${msg}`);
  const body = errorBody(reason, 'Runtime.UnhandledPromiseRejection');
  body.errorMessage = msg;
  fatal(body, 128);
});

function parseJSON(s) {
  if (!s) return undefined;
  try {
    return JSON.parse(s);
  } catch (_) {
    return undefined;
  }
}

function invoke(handler, res) {
  const h = res.headers;
  const id = h['lambda-runtime-aws-request-id'];
  const deadline = Number(h['lambda-runtime-deadline-ms']);
  if (h['lambda-runtime-trace-id']) env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
  else delete env._X_AMZN_TRACE_ID;

  return new Promise((resolve) => {
    const inv = { id, answered: false };
    current = inv;
    const send = (err, result) => {
      let p;
      if (err != null) {
        p = post(`/invocation/${id}/error`, errorBody(err));
      } else {
        let body;
        try {
          body = JSON.stringify(result === undefined ? null : result);
        } catch (e) {
          p = post(`/invocation/${id}/error`, errorBody(e, 'Runtime.SerializationError'));
        }
        if (!p) {
          const buf = Buffer.from(body === undefined ? 'null' : body);
          p = call('POST', `/invocation/${id}/response`, buf, { 'Content-Type': 'application/json', 'Content-Length': buf.length });
        }
      }
      p.then(resolve, resolve);
    };
    // answer takes the first outcome; wait says whether to hold it until the loop is empty.
    const answer = (err, result, wait) => {
      if (inv.answered) return;
      inv.answered = true;
      if (wait && context.callbackWaitsForEmptyEventLoop) onEmpty = () => send(err, result);
      else {
        onEmpty = null;
        send(err, result);
      }
    };
    const context = {
      awsRequestId: id,
      invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parseJSON(h['lambda-runtime-client-context']),
      identity: parseJSON(h['lambda-runtime-cognito-identity']),
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
      callbackWaitsForEmptyEventLoop: true,
      done: (err, result) => answer(err, result, true),
      succeed: (result) => answer(null, result, true),
      fail: (err) => answer(err == null ? 'handled' : err, undefined, true),
    };
    const callback = (err, result) => answer(err, result, true);
    let event;
    try {
      event = JSON.parse(res.body.toString('utf8'));
    } catch (_) {
      event = res.body.toString('utf8');
    }
    let out;
    try {
      out = handler(event, context, callback);
    } catch (err) {
      answer(err, undefined, false);
      return;
    }
    if (out && typeof out.then === 'function') {
      out.then((r) => answer(null, r, false), (err) => answer(err == null ? new Error('rejected') : err, undefined, false));
      // A promise that never settles while nothing else runs answers null, as Lambda does.
      if (!inv.answered) onEmpty = () => answer(null, undefined, false);
    } else if (!inv.answered) {
      // Not a promise: wait for the callback; if the loop empties first, answer null.
      onEmpty = () => answer(null, undefined, false);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler(env.LAMBDA_TASK_ROOT || process.cwd(), env._HANDLER || '');
  } catch (err) {
    console.error(err);
    const body = errorBody(err);
    await post('/init/error', body, { 'Lambda-Runtime-Function-Error-Type': body.errorType }).catch(() => {});
    process.exit(1);
  }
  for (;;) {
    const res = await call('GET', '/invocation/next');
    if (res.status !== 200) {
      console.error(`runtime API: next answered ${res.status}`);
      process.exit(1);
    }
    await invoke(handler, res);
    current = null;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
