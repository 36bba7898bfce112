"""The ``activemem`` command: one sub-command per pipeline stage, plus ``models``.

    activemem models --summary
    activemem <stage> --help        # same as python -m activemem.stages.<stage> --help

Both pipeline engines call ``python -m activemem.stages.<stage>``; this command is the same code
under a shorter name for people typing at a shell.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys


def stage_names() -> list[str]:
    import activemem.stages
    return sorted(m.name for m in pkgutil.iter_modules(activemem.stages.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ["models", *stage_names()]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"activemem: unknown command {argv[0]!r}", file=sys.stderr)
        print("usage: activemem {" + ",".join(commands) + "} [options]\n" + __doc__)
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else 2)
    name, rest = argv[0], argv[1:]
    if name == "models":
        importlib.import_module("activemem.models.__main__").main(rest)
        return
    from activemem.stages._common import run_stage
    stage = importlib.import_module(f"activemem.stages.{name}")
    run_stage(stage.main, name, rest)


if __name__ == "__main__":
    main()
