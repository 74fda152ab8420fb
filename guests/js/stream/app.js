// Stream: yields `n` numbered lines (query `?n=`, default 10), one chunk each, made
// only when the host asks for the next. Its close() logs how far it got.

class Lines {
  constructor(total, errors) {
    this.total = total;
    this.sent = 0;
    this.errors = errors;
  }

  *[Symbol.iterator]() {
    while (this.sent < this.total) {
      this.sent += 1;
      yield `line ${this.sent}\n`;
    }
  }

  close() {
    this.errors.write(`stream: closed after ${this.sent} of ${this.total} lines\n`);
  }
}

export function application(environ, startResponse) {
  const n = new URLSearchParams(environ.QUERY_STRING ?? '').get('n') ?? '10';
  if (!/^[0-9]+$/.test(n)) throw new RangeError(`n is not a number: ${n}`);
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return new Lines(Number(n), environ['wsgi.errors']);
}
