"""wasgi-py: unmodified PEP 3333 (WSGI) applications as wasgi WebAssembly components.

Two halves, one package:

- ``wasgi_py.adapter`` runs inside the component. It implements the WIT export
  ``application`` for any PEP 3333 callable and can only be imported there (it needs
  the bindings componentize-py generates).
- ``wasgi_py.carry`` runs in a throwaway component at build time: it compiles the
  files the component carries with the component's own Python.
- ``wasgi_py.build``, ``wasgi_py.deps``, ``wasgi_py.files`` and ``wasgi_py.cli`` run on
  the build machine: ``wasgi-py build module:callable -r requirements.txt -o
  app.wasm`` resolves the dependencies for CPython 3.14, checks the app, compiles it
  with componentize-py and appends its files.
"""

__version__ = "0.1.0"
