// Echo: streams the request body back as it arrives, one chunk per piece wsgi.input
// hands over (for await...of), so the first bytes go back before the last arrive.

export async function* application(environ, startResponse) {
  const contentType = environ.CONTENT_TYPE || 'application/octet-stream';
  startResponse('200 OK', [['Content-Type', contentType]]);
  for await (const chunk of environ['wsgi.input']) {
    yield chunk;
  }
}
