// Exc-info: error handling the PEP 3333 way.
//
// - `/` starts a 200, fails, and replaces it with an error page through
//   startResponse(..., excInfo): possible because no body was sent yet.
// - `/after-headers` sends part of the body, fails, and calls startResponse with
//   excInfo again: the headers are gone, so the adapter rethrows the app's own error
//   (PEP 3333's re-raise) and the response is aborted.
// - `/unhandled` lets an error escape before any headers: the server's 500.

class Boom extends Error {
  name = 'Boom';
}

const TEXT = [['Content-Type', 'text/plain']];

function* afterHeaders(startResponse) {
  startResponse('200 OK', TEXT);
  yield 'partial body\n';
  try {
    throw new Boom('failed mid-body');
  } catch (error) {
    startResponse('500 Internal Server Error', TEXT, error);
  }
  yield 'never sent\n';
}

export function application(environ, startResponse) {
  const path = environ.PATH_INFO ?? '';
  if (path === '/after-headers') return afterHeaders(startResponse);
  if (path === '/unhandled') throw new Boom('unhandled before the headers');
  startResponse('200 OK', TEXT);
  try {
    throw new Boom('failed before the body');
  } catch (error) {
    startResponse('500 Internal Server Error', TEXT, error);
    return [`error page: ${error.message}\n`];
  }
}
