"""The ``activemem`` command: one sub-command per pipeline stage, plus ``models`` and ``check-params``.

    activemem models --summary
    activemem check-params [--params params.yaml] [--scale demo]   # a scale's resolved settings
    activemem <stage> --help        # same as python -m activemem.stages.<stage> --help

Both pipeline engines call ``python -m activemem.stages.<stage>``; this command is the same code
under a shorter name for people typing at a shell.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def stage_names() -> list[str]:
    import activemem.stages
    return sorted(m.name for m in pkgutil.iter_modules(activemem.stages.__path__) if not m.name.startswith("_"))


def check_params(argv: list[str]) -> None:
    """Check the whole params file and print one scale's resolved settings (``defaults`` merged) as
    YAML, itself a valid params file; a bad file is a one-line error per problem and exit status 1."""
    import yaml

    from activemem.config import ParamsError, load_params
    p = argparse.ArgumentParser(prog="activemem check-params", description=check_params.__doc__)
    p.add_argument("--params", default="params.yaml", help="the params file (default params.yaml)")
    p.add_argument("--scale", default=None, help="scale to resolve (default: params 'scale')")
    args = p.parse_args(argv)
    try:
        params = load_params(args.params, args.scale)
    except ParamsError as err:
        sys.exit(f"error: {err}")
    block = {k: v for k, v in params.items() if k not in ("scale", "model_names", "seeds", "report", "path")}
    # train.seed is the first of `seeds`, put there by load_params: the file's own key is `seeds`
    block["train"] = {k: v for k, v in block["train"].items() if k != "seed"}
    resolved = {"scale": params["scale"], "models": params["model_names"], "seeds": params["seeds"],
                params["scale"]: block, "report": params["report"]}
    class Dumper(yaml.SafeDumper):  # mappings one key a line, lists on one line, as in params.yaml
        pass
    Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
    print(f"# {args.params}, scale {params['scale']}: every setting, defaults merged")
    print(yaml.dump(resolved, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=110), end="")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ["models", "check-params", *stage_names()]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"activemem: unknown command {argv[0]!r}", file=sys.stderr)
        print("usage: activemem {" + ",".join(commands) + "} [options]\n" + __doc__)
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else 2)
    name, rest = argv[0], argv[1:]
    if name == "models":
        importlib.import_module("activemem.models.__main__").main(rest)
        return
    if name == "check-params":
        check_params(rest)
        return
    from activemem.stages._common import run_stage
    stage = importlib.import_module(f"activemem.stages.{name}")
    run_stage(stage.main, name, rest)


if __name__ == "__main__":
    main()
