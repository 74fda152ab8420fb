"""P1's wsgiref baseline: the Python hello run by the standard library's CGIHandler.

    python3 -I -S bench/wsgiref_cgi.py APP_DIR

Imports ``application`` from APP_DIR/app.py and runs it once as a CGI program, the
response on stdout, as ``wasgi run`` does for the same app compiled to a component.
"""

import sys
from wsgiref.handlers import CGIHandler

sys.path.insert(0, sys.argv[1])
from app import application  # noqa: E402  (the path is known only now)

CGIHandler().run(application)
