"""The ``module:callable`` spec that names a PEP 3333 application.

Shared by the build machine (which checks the spec before compiling) and the component
(which resolves it while componentize-py pre-initialises the app), so both read it the
same way. No WIT bindings here: this module imports anywhere.
"""

import importlib


def parse(spec):
    """Splits ``module:callable`` (the callable may be dotted, ``module:obj.attr``)."""
    module, sep, attrs = spec.partition(":")
    names = attrs.split(".")
    if not sep or not module or not all(n.isidentifier() for n in names):
        raise ValueError(f"{spec!r} is not module:callable (for example app:application)")
    return module, names


def resolve(spec):
    """Imports the module and returns the callable it names."""
    module, names = parse(spec)
    app = importlib.import_module(module)
    for name in names:
        app = getattr(app, name)
    if not callable(app):
        raise TypeError(f"{spec!r} is a {type(app).__name__}, not a callable")
    return app
