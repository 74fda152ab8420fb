"""The ``wasgi-py`` command. ``wasgi-py build --help`` lists the flags; the work is in
``wasgi_py.build``."""

import argparse
import sys

from wasgi_py.build import BuildError, build, wasm_opt
from wasgi_py.deps import DependencyError, default_target, install


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="wasgi-py",
        description="Build unmodified PEP 3333 (WSGI) apps into wasgi components.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser(
        "build",
        help="compile module:callable into a component",
        description="Compile a PEP 3333 app into a wasgi component (componentize-py 0.25.1).",
    )
    b.add_argument("spec", metavar="module:callable", help="the app, e.g. app:application")
    b.add_argument("-o", "--output", required=True, help="the component to write")
    b.add_argument(
        "-p",
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory holding the app's modules (repeatable; default: .)",
    )
    b.add_argument(
        "-r",
        "--requirements",
        metavar="FILE",
        help="a requirements file or a pyproject.toml: its dependencies are resolved for "
        "the component's Python (3.14, pure Python) and carried",
    )
    b.add_argument(
        "--deps",
        metavar="DIR",
        help="pure-Python dependencies installed with `pip install --target DIR`; with -r, "
        "where the resolved dependencies are kept (default: wasgi-py's cache)",
    )
    b.add_argument(
        "--preload",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module the app imports only at request time (repeatable)",
    )
    b.add_argument(
        "--warm-up",
        action="append",
        default=[],
        metavar="PATH",
        help="request GET PATH (e.g. / or /items?page=1) once while the component is "
        "built, so every instance starts past the framework's first-request set-up; "
        "whatever that request leaves in memory every instance starts with "
        "(repeatable)",
    )
    b.add_argument(
        "--no-immortalize",
        dest="immortalize",
        action="store_false",
        help="leave the objects of the build's snapshot mortal: by default they are made "
        "immortal (never freed, their reference counts never written), which saves a "
        "fresh instance the pages those writes dirty",
    )
    b.add_argument(
        "--no-fill-heap",
        dest="fill_heap",
        action="store_false",
        help="leave the free memory of the build's snapshot free: by default it is filled, "
        "so that a fresh instance allocates past the snapshot instead of on its pages, "
        "which saves it the pages those objects dirty",
    )
    b.add_argument(
        "--no-optimize",
        dest="optimize",
        action="store_false",
        help="leave the interpreter's shared libraries as componentize-py ships them: by "
        "default binaryen's wasm-opt -O3 optimizes them (once per library, cached), "
        "which makes Python code run faster; needs wasm-opt on PATH",
    )
    args = parser.parse_args(argv)
    try:
        deps = args.deps
        if args.optimize:
            wasm_opt()  # before -r resolves anything
        if args.requirements is not None:
            deps = install(args.requirements, deps or default_target(args.requirements))
        build(
            args.spec,
            args.output,
            args.path,
            deps,
            args.preload,
            args.warm_up,
            args.immortalize,
            args.optimize,
            args.fill_heap,
        )
    except (BuildError, DependencyError, ValueError) as e:
        print(f"wasgi-py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
