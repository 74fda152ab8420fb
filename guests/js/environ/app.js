// Environ: answers with the request's environ as JSON, byte for byte as the Rust
// environ guest: keys sorted, two-space indent. Variable values are strings holding
// one code unit per byte (PEP 3333's latin-1), so bytes that are not UTF-8 survive;
// JSON.stringify writes them as UTF-8, as serde_json does.

export function application(environ, startResponse) {
  const variables = {};
  for (const name of Object.keys(environ).filter((k) => !k.startsWith('wsgi.')).sort()) {
    variables[name] = environ[name];
  }
  const body = {
    variables,
    'wsgi.input_terminated': environ['wsgi.input_terminated'] === true,
    'wsgi.multiprocess': environ['wsgi.multiprocess'],
    'wsgi.multithread': environ['wsgi.multithread'],
    'wsgi.run_once': environ['wsgi.run_once'],
    'wsgi.url_scheme': environ['wsgi.url_scheme'],
  };
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return [JSON.stringify(body, null, 2)];
}
