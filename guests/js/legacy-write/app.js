// Legacy write: the imperative write() that startResponse returns, then a yielded
// chunk, which must go out after what was written.

export function application(environ, startResponse) {
  const write = startResponse('200 OK', [['Content-Type', 'text/plain']]);
  write('written first\n');
  write(new TextEncoder().encode('written second\n'));
  return ['yielded last\n'];
}
