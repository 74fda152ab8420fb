"""wasgi-py: unmodified PEP 3333 (WSGI) applications as wasgi WebAssembly components.

Two halves, one package:

- ``wasgi_py.adapter`` runs inside the component. It implements the WIT export
  ``application`` for any PEP 3333 callable and can only be imported there (it needs
  the bindings componentize-py generates).
- ``wasgi_py.build`` and ``wasgi_py.cli`` run on the build machine: ``wasgi-py build
  module:callable -o app.wasm`` checks the app and its dependencies, then compiles
  them with componentize-py.
"""

__version__ = "0.1.0"
