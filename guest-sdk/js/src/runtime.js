// The adapter: a PEP 3333-shaped JavaScript app as the wasgi world's `application`
// export. Runs inside the component only (it imports the gateway's WIT interface,
// which componentize-js binds); `wasgi-js build` bundles it with the app.
//
// Per request (one instance each), `call` builds a plain environ object, calls
// `application(environ, startResponse)` and returns a `Body` the host pulls one chunk
// at a time. What the adapter guarantees:
//
// - environ values are strings holding the WIT's raw bytes one code unit per byte
//   (PEP 3333's "bytes as latin-1"), so nothing is lost; `wsgi.input` streams the body
//   through `server.read-input` (read, readline, for...of and for await...of) and never
//   asks past CONTENT_LENGTH; `wsgi.errors` writes to the host's log (console.error).
// - startResponse and write throw the gateway's refusals as `GatewayError`s the app
//   can catch; startResponse with excInfo after the headers went out rethrows the app's
//   own error, as PEP 3333 asks.
// - the body may be an array, any iterable, an iterator, or an async generator, and the
//   app may be an async function; chunks are strings (UTF-8 encoded) or Uint8Arrays.
// - the app's close() (the body's, or its iterator's `return()`) runs exactly once,
//   however the response ends (see `Body`).
// - an error escaping the app is printed on wsgi.errors and becomes the WIT error:
//   the host sends its generic 500, or aborts a response already under way.

import * as server from 'wasgi:gateway/server@0.1.0';

/** The most wsgi.input asks the host for in one call. */
const READ_SIZE = 64 * 1024;

/** A refusal from the gateway: `kind` names the rule (the WIT's case name). */
export class GatewayError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'GatewayError';
    this.kind = kind;
  }
}

const MESSAGES = {
  'write-before-start-response': () => 'write() before start_response()',
  'headers-already-set': () =>
    'start_response() called again without exc_info: headers already set',
  'headers-already-sent': () => 'start_response() with exc_info after the headers were sent',
  'invalid-status': (v) => `invalid status: ${v}`,
  'invalid-header': (v) => `invalid header: ${v}`,
  'output-closed': (v) => `output closed: ${v}`,
  'input-failed': (v) => `input failed: ${v}`,
};

/** The WIT `gateway-error` inside what a failed import call threw. */
function refusal(thrown) {
  const error = thrown && typeof thrown === 'object' && 'payload' in thrown ? thrown.payload : thrown;
  if (error && typeof error === 'object' && typeof error.tag === 'string') return error;
  return null;
}

/** Calls a server import, turning its WIT error into a GatewayError. */
function gateway(call) {
  try {
    return call();
  } catch (thrown) {
    const error = refusal(thrown);
    if (!error) throw thrown;
    const message = (MESSAGES[error.tag] || (() => `gateway error: ${error.tag}`))(error.val);
    throw new GatewayError(error.tag, message);
  }
}

/** The bytes a string stands for, one byte per code unit (latin-1), checked. */
function latin1(text, what) {
  if (typeof text !== 'string') throw new TypeError(`${what} must be a string, not ${typeof text}`);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit > 0xff) {
      throw new RangeError(
        `${what} ${JSON.stringify(text)} is not latin-1: it holds bytes one per character`,
      );
    }
    bytes[i] = unit;
  }
  return bytes;
}

/** Raw bytes as a string, one code unit per byte. */
function fromLatin1(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  }
  return text;
}

const encoder = new TextEncoder();

/** A body chunk as bytes: a string is UTF-8 encoded, a Uint8Array (or any typed
 * array or ArrayBuffer) taken as is. */
function bytesOf(chunk, what) {
  if (typeof chunk === 'string') return encoder.encode(chunk);
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError(`${what} must be a string or a Uint8Array, not ${chunk === null ? 'null' : typeof chunk}`);
}

function concat(parts, length) {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** wsgi.input: the request body, read from the host as the app asks. */
export class Input {
  #buffer = new Uint8Array(0);
  #left;
  #ended = false;

  constructor(contentLength) {
    this.#left = contentLength;
  }

  /** Reads more from the host into the buffer; false at the end of the body. */
  #fill(want) {
    if (this.#left !== null) want = Math.min(want, this.#left);
    if (this.#ended || want <= 0) {
      this.#ended = true;
      return false;
    }
    const data = gateway(() => server.readInput(Math.min(want, READ_SIZE)));
    if (data.length === 0) {
      this.#ended = true;
      return false;
    }
    if (this.#left !== null) this.#left -= data.length;
    this.#buffer = this.#buffer.length ? concat([this.#buffer, data], this.#buffer.length + data.length) : data;
    return true;
  }

  #take(size) {
    const data = this.#buffer.slice(0, size);
    this.#buffer = this.#buffer.subarray(size);
    return data;
  }

  /** `size` bytes (fewer only at the end of the body); with no size, the rest. */
  read(size) {
    if (size === undefined || size === null || size < 0) {
      while (this.#fill(READ_SIZE));
      return this.#take(this.#buffer.length);
    }
    while (this.#buffer.length < size && this.#fill(size - this.#buffer.length));
    return this.#take(size);
  }

  /** The next line, its `\n` included (at most `size` bytes); empty at the end. */
  readline(size) {
    const limited = size !== undefined && size !== null && size >= 0;
    let end;
    for (;;) {
      const newline = this.#buffer.indexOf(10);
      if (newline >= 0) {
        end = newline + 1;
        break;
      }
      if ((limited && this.#buffer.length >= size) || !this.#fill(READ_SIZE)) {
        end = this.#buffer.length;
        break;
      }
    }
    return this.#take(limited ? Math.min(end, size) : end);
  }

  /** The body as it arrives, one piece per host read (never a whole body). */
  *[Symbol.iterator]() {
    for (;;) {
      if (this.#buffer.length === 0 && !this.#fill(READ_SIZE)) return;
      yield this.#take(this.#buffer.length);
    }
  }

  /** The same pieces, for `for await (const chunk of environ['wsgi.input'])`. */
  async *[Symbol.asyncIterator]() {
    yield* this[Symbol.iterator]();
  }

  /** The whole rest of the body, decoded as UTF-8. */
  text() {
    return new TextDecoder().decode(this.read());
  }
}

/** wsgi.errors: a text stream to the host's log. */
export const errors = {
  write(text) {
    console.error(String(text).replace(/\n$/, ''));
  },
  writelines(lines) {
    for (const line of lines) this.write(line);
  },
  flush() {},
};

function contentLength(environ) {
  const value = environ.CONTENT_LENGTH ?? '';
  return /^[0-9]+$/.test(value) ? Number(value) : null;
}

/** The environ object for the WIT environ record. */
export function buildEnviron(wit) {
  const environ = {};
  for (const [name, value] of wit.variables) environ[name] = fromLatin1(value);
  Object.assign(environ, {
    'wsgi.version': [1, 0],
    'wsgi.url_scheme': wit.urlScheme,
    'wsgi.input': new Input(contentLength(environ)),
    'wsgi.errors': errors,
    'wsgi.multithread': wit.multithread,
    'wsgi.multiprocess': wit.multiprocess,
    'wsgi.run_once': wit.runOnce,
  });
  if (wit.inputTerminated) environ['wsgi.input_terminated'] = true;
  return environ;
}

/** One header for the WIT: `[name, value]` (an array) or `{name: value}` entries. */
function headerList(headers) {
  if (headers === undefined || headers === null) return [];
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new TypeError('each header must be a [name, value] pair');
    }
    const [name, value] = pair;
    if (typeof name !== 'string') throw new TypeError(`header name must be a string, not ${typeof name}`);
    return [name, latin1(String(value), `header ${JSON.stringify(name)}`)];
  });
}

function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** PEP 3333's legacy write(data): sends `data` now, headers first. */
export function write(data) {
  const bytes = bytesOf(data, 'write() data');
  gateway(() => server.write(bytes));
}

/** PEP 3333's start_response(status, headers, excInfo): the host stores and checks
 * them (its refusals are thrown here). Returns `write`. */
export function startResponse(status, headers, excInfo) {
  const wireStatus = latin1(status, 'status');
  const wireHeaders = headerList(headers);
  const described = excInfo === undefined || excInfo === null ? undefined : describe(excInfo);
  try {
    gateway(() => server.startResponse(wireStatus, wireHeaders, described));
    return write;
  } catch (error) {
    // PEP 3333: with exc_info after the headers went out, re-raise the app's own
    // error (the host has aborted the response already).
    if (described !== undefined && error instanceof GatewayError && error.kind === 'headers-already-sent') {
      throw excInfo;
    }
    throw error;
  }
}

/** Prints an escaped error on wsgi.errors; the one-line message for the host. */
function failed(error) {
  console.error(error instanceof Error && error.stack ? `${describe(error)}\n${error.stack}` : describe(error));
  return describe(error);
}

/** How many times in a row `next` may find the app's promise still pending (each
 * time handing the host an empty chunk, which it skips) before the body fails. */
const MAX_POLLS = 10000;

/**
 * A value or promise as `{state, value}`, watched as it settles. StarlingMonkey runs
 * pending promise jobs between two calls into the component, never inside one, so
 * `next` cannot wait for a promise: it hands the host an empty chunk and looks again
 * on the next call.
 */
function track(value) {
  if (!(value && typeof value.then === 'function')) return { state: 'fulfilled', value };
  const tracked = { state: 'pending', value: undefined };
  value.then(
    (v) => {
      tracked.state = 'fulfilled';
      tracked.value = v;
    },
    (e) => {
      tracked.state = 'rejected';
      tracked.value = e;
    },
  );
  return tracked;
}

/**
 * The app's body, pulled one chunk per `next`.
 *
 * Each chunk goes out through `server.write` and `next` hands the host an empty
 * chunk (which it skips): componentize-js runs no JavaScript when the host drops the
 * body (the resource's destructor), so a chunk the host failed to send would leave the
 * app's close() uncalled. Through write every failure comes back here, and close()
 * runs before `next` reports the end or the error.
 *
 * An async app (a promise of a body, or an async iterable) is polled: while its
 * promise is pending, `next` returns an empty chunk and the host asks again.
 */
class Body {
  #result;
  #iterator = null;
  #step = null;
  #polls = 0;
  #closed = false;

  constructor(result) {
    this.#result = track(result);
  }

  /** PEP 3333's `for data in result` begins, once the result is there. */
  #start(result) {
    if (result === null || result === undefined) throw new TypeError('application returned no body');
    if (typeof result === 'string' || result instanceof Uint8Array) {
      this.#iterator = [result][Symbol.iterator]();
    } else if (typeof result[Symbol.iterator] === 'function') {
      this.#iterator = result[Symbol.iterator]();
    } else if (typeof result[Symbol.asyncIterator] === 'function') {
      this.#iterator = result[Symbol.asyncIterator]();
    } else if (typeof result.next === 'function') {
      this.#iterator = result;
    } else {
      throw new TypeError('application must return an iterable of chunks (strings or Uint8Arrays)');
    }
  }

  /** The settled value of `tracked`, or `undefined` (after counting a poll) while it
   * is pending. */
  #settled(tracked) {
    if (tracked.state === 'pending') {
      if (++this.#polls > MAX_POLLS) {
        throw new Error(`the app's promise did not settle after ${MAX_POLLS} polls`);
      }
      return undefined;
    }
    this.#polls = 0;
    if (tracked.state === 'rejected') throw tracked.value;
    return tracked;
  }

  /** Starts the body now if the app's result is already there (a synchronous app);
   * its errors go to `call`. */
  begin() {
    if (this.#result.state === 'pending') return;
    if (this.#result.state === 'rejected') throw this.#result.value;
    this.#start(this.#result.value);
  }

  next() {
    try {
      if (this.#iterator === null) {
        if (!this.#settled(this.#result)) return new Uint8Array(0);
        this.#start(this.#result.value);
      }
      this.#step ??= track(this.#iterator.next());
      const step = this.#settled(this.#step);
      if (!step) return new Uint8Array(0);
      this.#step = null;
      if (step.value.done) {
        this.close();
        return undefined;
      }
      const data = bytesOf(step.value.value, 'body chunk');
      if (data.length) write(data);
      return new Uint8Array(0);
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Reports an escaped error, closes the body, returns the message. */
  fail(error) {
    const message = failed(error);
    try {
      this.close();
    } catch (closeError) {
      failed(closeError);
    }
    return message;
  }

  /** The app's close(), once: the body's own, else its iterator's return() (an async
   * iterator's return() runs in the jobs after this call). */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    const result = this.#result?.value;
    if (result && typeof result.close === 'function') {
      result.close();
    } else if (this.#iterator && typeof this.#iterator.return === 'function') {
      const returned = this.#iterator.return();
      if (returned && typeof returned.then === 'function') returned.then(undefined, failed);
    }
  }
}

/** The `application` export for the app: what the build's entry module exports. */
export function exportApplication(app) {
  if (typeof app !== 'function') {
    throw new TypeError('the app module must export a function `application(environ, startResponse)`');
  }
  return {
    Body,
    call(wit) {
      const environ = buildEnviron(wit);
      let body;
      try {
        body = new Body(app(environ, startResponse));
      } catch (error) {
        throw failed(error);
      }
      try {
        body.begin();
      } catch (error) {
        throw body.fail(error);
      }
      return body;
    },
  };
}
