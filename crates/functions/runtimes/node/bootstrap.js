// Sluice's runtime interface client for Node.js functions (nodejs18.x, nodejs20.x, nodejs22.x,
// ...): what AWS's `aws-lambda-ric` does, in plain JavaScript with no dependency (the npm
// package needs cmake and a native build of libcurl).
//
// `sluice serve` runs `node <this file>` per worker, with the environment Lambda sets
// (`AWS_LAMBDA_RUNTIME_API`, `_HANDLER`, `LAMBDA_TASK_ROOT`, ...). It loads the handler once,
// then loops on the Lambda Runtime API: GET next → call the handler → POST response or error.
//
// - `_HANDLER` is `[dir/]module.export[.nested]`; the module is `module.js` (CommonJS, or ES
//   module when the nearest package.json says `"type": "module"`), `module.mjs` or `module.cjs`.
//   Load failures are init errors, as AWS names them: `Runtime.MalformedHandlerName`,
//   `Runtime.ImportModuleError`, `Runtime.UserCodeSyntaxError`, `Runtime.HandlerNotFound`, or
//   the thrown error's name.
// - Handlers are async (the returned promise settles the invocation) or take a callback
//   (`callback(error, result)`; with `context.callbackWaitsForEmptyEventLoop`, the default,
//   the response is sent once the event loop is empty). A handler that returns no promise and
//   never calls back answers `null` once the event loop is empty, as on AWS.
// - Errors are `{errorType, errorMessage, trace}` (AWS's Node shape), the type also in
//   `Lambda-Runtime-Function-Error-Type`; `errorType` is the error's `name`. An uncaught
//   exception or unhandled rejection fails the invocation and ends the process.
// - `console.*` lines are prefixed `<time>\t<request id>\t<LEVEL>\t` as on AWS (newlines
//   inside a message become `\r`, so one message stays one line).
// - `context.clientContext` is the decoded client context (Sluice's Task dispatches put the
//   idempotency key in `clientContext.custom["sluice-idempotency-key"]`).

'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const util = require('node:util');
const { pathToFileURL } = require('node:url');

const API = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
const HOST = API.slice(0, API.lastIndexOf(':'));
const PORT = Number(API.slice(API.lastIndexOf(':') + 1));
const BASE = '/2018-06-01/runtime';
const ERROR_TYPE = 'lambda-runtime-function-error-type';
// One connection, kept alive: the worker makes one request at a time.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// ---------------------------------------------------------------------------------------------
// The Runtime API

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: PORT, method, path: urlPath, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) {
      req.setHeader('Content-Type', 'application/json');
      req.setHeader('Content-Length', Buffer.byteLength(body));
      req.end(body);
    } else {
      req.end();
    }
  });
}

function postError(urlPath, document) {
  return request('POST', urlPath, JSON.stringify(document), {
    [ERROR_TYPE]: headerSafe(document.errorType),
  });
}

function headerSafe(text) {
  return String(text).replace(/[^\x20-\x7e]/g, '_');
}

// ---------------------------------------------------------------------------------------------
// Errors

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

// AWS's error document of a thrown value.
function errorDocument(error, typeOverride) {
  if (error instanceof Error) {
    return {
      errorType: typeOverride || error.name || 'Error',
      errorMessage: typeOverride ? `${error.name}: ${error.message}` : String(error.message),
      trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
    };
  }
  let message;
  try {
    message = typeof error === 'string' ? error : JSON.stringify(error);
  } catch (_) {
    message = String(error);
  }
  return {
    errorType: typeOverride || (error === null ? 'null' : typeof error),
    errorMessage: message === undefined ? String(error) : message,
    trace: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Logging: console.* as AWS's Node runtimes format it.

let currentRequestId;

function patchConsole() {
  const write = (level) =>
    function log(...args) {
      const text = util.format(...args).replace(/\n/g, '\r');
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${text}\n`);
    };
  console.log = write('INFO');
  console.info = write('INFO');
  console.warn = write('WARN');
  console.error = write('ERROR');
  console.debug = write('DEBUG');
  console.trace = write('TRACE');
  console.fatal = write('FATAL');
}

// ---------------------------------------------------------------------------------------------
// Loading the handler

function isEsm(file) {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8')).type === 'module';
      } catch (_) {
        return false;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

async function loadModule(root, moduleName) {
  const base = path.resolve(root, moduleName);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) {
    throw new RuntimeError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${__filename}`,
    );
  }
  try {
    if (isEsm(file)) return await import(pathToFileURL(file).href);
    try {
      return require(file);
    } catch (error) {
      if (error && error.code === 'ERR_REQUIRE_ESM') return await import(pathToFileURL(file).href);
      throw error;
    }
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `${error.name}: ${error.message}`);
    }
    if (error && (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${error.message}`);
    }
    throw error;
  }
}

async function loadHandler() {
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const spec = process.env._HANDLER || '';
  const slash = spec.lastIndexOf('/');
  const dir = spec.slice(0, slash + 1);
  const rest = spec.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dir.includes('..') || dot <= 0 || dot === rest.length - 1) {
    throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  }
  const moduleName = dir + rest.slice(0, dot);
  const exportPath = rest.slice(dot + 1);
  const loaded = await loadModule(root, moduleName);
  const find = (from) =>
    exportPath.split('.').reduce((value, key) => (value == null ? undefined : value[key]), from);
  let handler = find(loaded);
  if (handler === undefined && loaded && loaded.default) handler = find(loaded.default);
  if (typeof handler !== 'function') {
    throw new RuntimeError(
      'Runtime.HandlerNotFound',
      `${moduleName}.${exportPath} is undefined or not exported`,
    );
  }
  return handler;
}

// ---------------------------------------------------------------------------------------------
// Invocations

// The invocation being run: its request id and what ends it when the event loop empties.
let current = null;
// Whether the handler is loaded (an error before is an init error).
let initialized = false;

function parseHeader(value) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch (_) {
    return undefined;
  }
}

function invoke(handler, next) {
  return new Promise((resolve) => {
    const headers = next.headers;
    const id = headers['lambda-runtime-aws-request-id'];
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    currentRequestId = id;
    if (headers['lambda-runtime-trace-id']) {
      process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    let finished = false;
    const finish = (error, result) => {
      if (finished) return;
      finished = true;
      current = null;
      let post;
      if (error !== undefined && error !== null) {
        post = postError(`${BASE}/invocation/${id}/error`, errorDocument(error));
      } else {
        let body;
        try {
          body = JSON.stringify(result === undefined ? null : result);
        } catch (e) {
          post = postError(`${BASE}/invocation/${id}/error`, {
            errorType: 'Runtime.SerializationError',
            errorMessage: `Unable to stringify response body: ${e.message}`,
            trace: [],
          });
        }
        if (!post) post = request('POST', `${BASE}/invocation/${id}/response`, body);
      }
      post.then(resolve, fatal);
    };
    current = { id, onEmpty: () => finish(null, null), fail: (error) => finish(error) };
    let waiting = false;
    const callback = (error, result) => {
      if (finished || waiting) return;
      if (context.callbackWaitsForEmptyEventLoop) {
        waiting = true;
        current.onEmpty = () => finish(error, result);
      } else {
        finish(error, result);
      }
    };
    const done = (error, result) => finish(error, result);
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: id,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      identity: parseHeader(headers['lambda-runtime-cognito-identity']),
      clientContext: parseHeader(headers['lambda-runtime-client-context']),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done,
      succeed: (result) => done(null, result),
      fail: (error) => done(error === undefined || error === null ? 'handled' : error),
    };
    let event;
    try {
      event = next.body.length ? JSON.parse(next.body) : null;
    } catch (error) {
      finish(new RuntimeError('Runtime.UnmarshalError', `Unable to parse event: ${error.message}`));
      return;
    }
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === 'function') {
        returned.then(
          (result) => finish(null, result),
          (error) => finish(error === undefined || error === null ? new Error(String(error)) : error),
        );
      }
    } catch (error) {
      finish(error === undefined || error === null ? new Error(String(error)) : error);
    }
  });
}

// The event loop is empty while an invocation runs: its callback's result (or null) goes out.
process.on('beforeExit', () => {
  if (current) current.onEmpty();
});

function fatal(error) {
  process.stderr.write(`sluice node runtime: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
}

// An exception nobody caught fails the invocation, then ends the process (AWS exits 129/128).
function crash(error, code, type) {
  const what = type ? 'Unhandled Promise Rejection' : 'Uncaught Exception';
  console.error(what, error);
  const document = errorDocument(error, type);
  let where = null;
  if (current) where = `${BASE}/invocation/${current.id}/error`;
  else if (!initialized) where = `${BASE}/init/error`;
  current = null;
  if (!where) process.exit(code);
  postError(where, document).then(
    () => process.exit(code),
    () => process.exit(code),
  );
}

process.on('uncaughtException', (error) => crash(error, 129));
process.on('unhandledRejection', (reason) => {
  const error = reason instanceof Error ? reason : new Error(String(reason));
  crash(error, 128, 'Runtime.UnhandledPromiseRejection');
});

async function main() {
  patchConsole();
  let handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    console.error(errorDocument(error).errorType, error && error.message);
    await postError(`${BASE}/init/error`, errorDocument(error)).catch(() => {});
    process.exit(129);
  }
  initialized = true;
  for (;;) {
    const next = await request('GET', `${BASE}/invocation/next`);
    if (next.status !== 200) {
      // 410: Sluice is stopping this worker.
      process.exit(0);
    }
    await invoke(handler, next);
  }
}

main().catch(fatal);
