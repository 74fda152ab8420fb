"""Runs inside the component while it is built: readies the files it will carry.

componentize-py pre-initialises the component with its Python path mounted (the
standard library at ``/python``, the generated bindings at ``/world``, its helpers at
``/bundled``, each ``-p`` directory at ``/0``, ``/1``, ...) and snapshots it; the
component it writes has none of those files. wasgi-py carries them in the component
and the host mounts them, read-only, at the same paths when a request runs, so that
an import or ``open()`` at request time finds what it found at build time.

Two things only this interpreter can do, done here, after the app was imported:

1. compile every module it could import later to bytecode of *this* Python (3.14),
   as unchecked-hash ``.pyc`` files (PEP 552): valid whatever the files' timestamps
   are when the host extracts them, so a lazy import at request time unmarshals
   instead of compiling (nothing could write a ``.pyc`` then: the files are read-only);
2. copy the directories that are not the build's own copies (``/python``,
   ``/world``, ``/bundled``: temporary directories of componentize-py) into
   ``OUT``, where the build machine packs them with the rest.

Nothing here runs at request time.
"""

import compileall
import os
import py_compile
import shutil

#: The componentize-py mounts copied out (the ``-p`` directories are the build's own).
MOUNTS = ("python", "world", "bundled")


def prepare(out, roots, runtime):
    """Compiles ``roots`` (guest paths) and, when ``runtime`` is true, compiles
    componentize-py's mounts and copies them into ``out`` (a guest path on a writable
    ``-p`` directory).

    Idempotent: componentize-py may run the pre-initialisation twice, and the second
    run finds the marker the first one left.
    """
    done = os.path.join(out, "done")
    if os.path.exists(done):
        return
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    mounts = [f"/{m}" for m in MOUNTS] if runtime else []
    for root in (*roots, *mounts):
        if os.path.isdir(root):
            # quiet=2: nothing printed; a module that does not compile (a test file
            # with Python 2 syntax, say) is left as source, as pip leaves it.
            compileall.compile_dir(root, quiet=2, force=True, invalidation_mode=mode, workers=1)
    os.makedirs(out, exist_ok=True)
    for mount in mounts:
        if os.path.isdir(mount):
            shutil.copytree(mount, os.path.join(out, mount[1:]), symlinks=False, dirs_exist_ok=True)
    with open(done, "w"):
        pass
