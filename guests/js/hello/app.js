// Hello, World! The smallest wasgi application in JavaScript.

export function application(environ, startResponse) {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['Hello, World!\n'];
}
