"""PEP 3333's own CGI gateway, the reference tests/python.rs compares wasgi against.

    python3 -I -S run_with_cgi.py VARIABLES module:callable DIR...

VARIABLES is the request's CGI variables as a JSON object, each value one code point
per byte (PEP 3333's latin-1 convention, the format the Rust ``environ`` guest prints).
The harness makes them the whole process environment, as a CGI server does, puts the
DIRs (the app's directory, its dependencies) on ``sys.path``, and runs the app through
the PEP's ``run_with_cgi``, copied below verbatim from "The Server/Gateway Side" of
python/peps ``peps/pep-3333.rst``. The request body is this process's stdin.
"""

import importlib
import json


def main():
    variables = json.loads(sys.argv[1])
    sys.path[:0] = sys.argv[3:]
    module, _, name = sys.argv[2].partition(":")
    application = getattr(importlib.import_module(module), name)
    os.environb.clear()
    for key, value in variables.items():
        os.environb[key.encode("ascii")] = value.encode("latin-1")
    run_with_cgi(application)


# ---- PEP 3333, "The Server/Gateway Side", verbatim ------------------------------------

import os, sys

enc, esc = sys.getfilesystemencoding(), 'surrogateescape'

def unicode_to_wsgi(u):
    # Convert an environment variable to a WSGI "bytes-as-unicode" string
    return u.encode(enc, esc).decode('iso-8859-1')

def wsgi_to_bytes(s):
    return s.encode('iso-8859-1')

def run_with_cgi(application):
    environ = {k: unicode_to_wsgi(v) for k,v in os.environ.items()}
    environ['wsgi.input']        = sys.stdin.buffer
    environ['wsgi.errors']       = sys.stderr
    environ['wsgi.version']      = (1, 0)
    environ['wsgi.multithread']  = False
    environ['wsgi.multiprocess'] = True
    environ['wsgi.run_once']     = True

    if environ.get('HTTPS', 'off') in ('on', '1'):
        environ['wsgi.url_scheme'] = 'https'
    else:
        environ['wsgi.url_scheme'] = 'http'

    headers_set = []
    headers_sent = []

    def write(data):
        out = sys.stdout.buffer

        if not headers_set:
             raise AssertionError("write() before start_response()")

        elif not headers_sent:
             # Before the first output, send the stored headers
             status, response_headers = headers_sent[:] = headers_set
             out.write(wsgi_to_bytes('Status: %s\r\n' % status))
             for header in response_headers:
                 out.write(wsgi_to_bytes('%s: %s\r\n' % header))
             out.write(wsgi_to_bytes('\r\n'))

        out.write(data)
        out.flush()

    def start_response(status, response_headers, exc_info=None):
        if exc_info:
            try:
                if headers_sent:
                    # Re-raise original exception if headers sent
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None     # avoid dangling circular ref
        elif headers_set:
            raise AssertionError("Headers already set!")

        headers_set[:] = [status, response_headers]

        # Note: error checking on the headers should happen here,
        # *after* the headers are set.  That way, if an error
        # occurs, start_response can only be re-called with
        # exc_info set.

        return write

    result = application(environ, start_response)
    try:
        for data in result:
            if data:    # don't send headers until body appears
                write(data)
        if not headers_sent:
            write(b'')   # send headers now if body was empty
    finally:
        if hasattr(result, 'close'):
            result.close()

# ---- end of PEP 3333's example ----------------------------------------------------------


if __name__ == "__main__":
    main()
