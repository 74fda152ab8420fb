"""Dependencies resolved for the Python the component runs, not the build machine's.

componentize-py 0.25.1 embeds CPython 3.14 on a platform where only pure Python (and
wasm32-wasi extensions, which PyPI does not carry) can run. The build machine's own
pip would choose for its own Python (3.11 on Debian 12), so ``wasgi-py build -r
requirements.txt`` resolves with pip's target options instead:

1. ``pip install --dry-run --report`` with ``--python-version 3.14
   --only-binary=:all:`` picks every distribution and version as CPython 3.14 would
   (``Requires-Python`` and markers included) and says which file it would use;
2. a distribution whose chosen wheel is pure Python (``*-none-any.whl``) is taken
   as is; for any other, a pure-Python wheel of the same version is looked for, and
   else its source is built with no C compiler (``CC=false``): a package with
   optional speedups (MarkupSafe, zope.interface) falls back to its Python code;
3. a distribution that still holds machine code stops the build with one line naming
   it; the rest are installed with ``pip install --target``.

The result is kept, keyed by the requirements and the component's Python, in the
directory ``--deps`` names or in wasgi-py's cache, so a rebuild works offline.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: The Python the component runs (componentize-py 0.25.1 embeds CPython 3.14.0).
PYTHON_VERSION = "3.14"

#: The stamp in a resolved directory: the key of what was installed there.
STAMP = ".wasgi-py-requirements"


class DependencyError(Exception):
    """Why the dependencies cannot be resolved, in one line."""


def requirements(path):
    """The requirement lines of a requirements file, or of a ``pyproject.toml``'s
    ``[project] dependencies``."""
    path = Path(path)
    if not path.is_file():
        raise DependencyError(f"{path} is not a file")
    if path.name != "pyproject.toml":
        return None
    import tomllib  # Python 3.11+: only a pyproject.toml needs it

    project = tomllib.loads(path.read_text()).get("project", {})
    if "dependencies" in project.get("dynamic", []):
        raise DependencyError(
            f"{path} declares its dependencies dynamic: list them in a requirements file and pass -r FILE"
        )
    return list(project.get("dependencies", []))


def cache_dir():
    """wasgi-py's cache: ``$WASGI_PY_CACHE``, else ``$XDG_CACHE_HOME/wasgi-py``, else
    ``~/.cache/wasgi-py``."""
    return Path(
        os.environ.get("WASGI_PY_CACHE")
        or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "wasgi-py")
    )


def default_target(requirement_file):
    """Where the dependencies of ``requirement_file`` are kept without ``--deps``."""
    name = hashlib.sha256(str(Path(requirement_file).resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "deps" / name


def install(requirement_file, target, pip=(sys.executable, "-m", "pip")):
    """Resolves ``requirement_file`` (a requirements file or a pyproject.toml) for the
    component's Python into ``target``, unless it already holds exactly that."""
    lines = requirements(requirement_file)
    source = Path(requirement_file).read_bytes() if lines is None else "\n".join(lines).encode()
    key = hashlib.sha256(f"wasgi-py deps v2 python {PYTHON_VERSION}\0".encode() + source).hexdigest()
    target = Path(target)
    if (target / STAMP).is_file() and (target / STAMP).read_text() == key:
        return target
    with tempfile.TemporaryDirectory(prefix="wasgi-py-deps-") as work:
        work = Path(work)
        if lines is not None:
            requirement_file = work / "requirements.txt"
            requirement_file.write_text("\n".join(lines) + "\n")
        chosen = resolve(pip, requirement_file, work)
        wheels = work / "wheels"
        wheels.mkdir()
        pure = [f"{n}=={v}" for n, v, url in chosen if url.endswith("-none-any.whl")]
        if pure:
            run(pip, *PURE_DOWNLOAD, wheels, *pure)
        for name, version, url in chosen:
            if not url.endswith("-none-any.whl"):
                fetch(pip, name, version, wheels)
        fresh = work / "target"
        if any(wheels.iterdir()):
            run(pip, "install", "--no-deps", "--no-index", "--target", fresh, *sorted(wheels.iterdir()))
        else:
            fresh.mkdir()
        (fresh / STAMP).write_text(key)
        replace(fresh, target)
    return target


def resolve(pip, requirement_file, work):
    """``(name, version, url)`` of every distribution CPython 3.14 would install.

    pip evaluates environment markers for the Python running it, even with
    ``--python-version``: WebOb needs ``legacy-cgi; python_version >= "3.13"``, which a
    3.11 pip leaves out. So the markers of what it chose are evaluated again for the
    component's Python, and what they add is resolved with the rest until nothing is
    missing."""
    extra = []
    for attempt in range(10):
        requirements = work / f"requirements-{attempt}.txt"
        requirements.write_text(
            f"-r {Path(requirement_file).resolve()}\n" + "".join(f"{r}\n" for r in extra)
        )
        report = work / f"report-{attempt}.json"
        run(
            pip, "install", "--dry-run", "--ignore-installed", "--report", report,
            "--python-version", PYTHON_VERSION, "--only-binary=:all:",
            "--target", work / "unused", "-r", requirements,
            what="resolving the requirements for CPython " + PYTHON_VERSION,
        )
        items = json.loads(report.read_text())["install"]
        missing = missing_for_component(items)
        if not missing:
            return [
                (i["metadata"]["name"], i["metadata"]["version"], i["download_info"]["url"])
                for i in items
            ]
        extra += missing
    raise DependencyError(f"the requirements did not settle for CPython {PYTHON_VERSION}: {extra}")


#: The component's environment, for markers: CPython 3.14 on WASI.
COMPONENT_MARKERS = {
    "python_version": PYTHON_VERSION,
    "python_full_version": PYTHON_VERSION + ".0",
    "implementation_name": "cpython",
    "implementation_version": PYTHON_VERSION + ".0",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "wasi",
    "platform_system": "WASI",
    "platform_machine": "wasm32",
}


def missing_for_component(items):
    """Requirements of the chosen distributions that apply on the component's Python
    but were not chosen (see :func:`resolve`)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    chosen = {canonicalize_name(i["metadata"]["name"]) for i in items}
    missing = []
    for item in items:
        for line in item["metadata"].get("requires_dist", []):
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) in chosen or requirement.marker is None:
                continue
            extras = [""] + list(item.get("requested_extras") or [])
            if any(requirement.marker.evaluate({**COMPONENT_MARKERS, "extra": e}) for e in extras):
                missing.append(str(Requirement(line)).split(";")[0].strip())
    return missing


#: ``pip download`` of pure-Python wheels for the component's Python, into a directory.
PURE_DOWNLOAD = (
    "download", "--no-deps", "--only-binary=:all:", "--python-version", PYTHON_VERSION,
    "--platform", "any", "--implementation", "py", "--abi", "none", "-d",
)


def fetch(pip, name, version, wheels):
    """Puts a pure-Python wheel of ``name`` ``version``, whose wheel for CPython 3.14
    is machine code, into ``wheels``: its pure wheel if it has one, else one built from
    its source with no compiler."""
    spec = f"{name}=={version}"
    if run(pip, *PURE_DOWNLOAD, wheels, spec, check=False):
        return
    # No pure wheel: build the source with no compiler (optional speedups fall back).
    before = set(wheels.iterdir())
    built = run(pip, "wheel", "--no-deps", "--no-binary", name, "--ignore-requires-python",
                "-w", wheels, spec, check=False, env={**os.environ, "CC": "false", "CXX": "false"})
    new = set(wheels.iterdir()) - before
    native = [n for w in new for n in zipfile.ZipFile(w).namelist() if n.endswith((".so", ".pyd"))]
    if not built or not new or native:
        for w in new:
            w.unlink()
        raise DependencyError(
            f"{name} {version} has no pure-Python build: its wheels for CPython {PYTHON_VERSION} are "
            f"machine code and its source {'needs a C compiler' if not native else 'builds ' + native[0]}; "
            f"it cannot run in wasm: drop it or use a pure-Python alternative"
        )


def run(pip, *args, check=True, what=None, env=None):
    """Runs pip quietly; on failure raises with its last line (or returns False)."""
    command = [*pip, "--disable-pip-version-check", "--quiet", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode == 0:
        return True
    if not check:
        return False
    lines = [l for l in (result.stderr or result.stdout).splitlines() if l.strip()]
    reason = lines[-1].strip() if lines else f"exit status {result.returncode}"
    raise DependencyError(f"pip failed {what or 'installing the requirements'}: {reason}")


def replace(fresh, target):
    """Puts the directory ``fresh`` in place of ``target`` (renamed when it can be)."""
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.with_name(f"{target.name}.old{os.getpid()}")
    if target.exists():
        os.rename(target, old)
    try:
        os.rename(fresh, target)
    except OSError:
        shutil.copytree(fresh, target)
    shutil.rmtree(old, ignore_errors=True)
