"""The ``activemem`` command (also ``python -m activemem``): one sub-command per pipeline stage, plus
``models`` and ``check-params``.

    activemem models --summary
    activemem check-params [--params params.yaml] [--scale demo]   # a scale's resolved settings
    activemem <command> --help       # a stage's is the same as python -m activemem.stages.<stage> --help

Both pipeline engines call ``python -m activemem.stages.<stage>``; this command is the same code
under a shorter name for people typing at a shell.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from activemem.entry import HelpFormatter, plain, quiet_on_closed_pipe, summary

# The stages in the order a run goes; one missing here is listed after them.
PIPELINE_ORDER = ["download", "prepare", "train", "evaluate", "paper"]
# Callable but not listed: `archives` writes the archives' digests DVC's download depends on.
HIDDEN = {"archives"}


def stage_names() -> list[str]:
    import activemem.stages
    return sorted(m.name for m in pkgutil.iter_modules(activemem.stages.__path__) if not m.name.startswith("_"))


def listed_commands() -> list[tuple[str, str]]:
    """(name, one-line summary) of each command the help lists, in the order a run uses them."""
    package = Path(__file__).parent
    stages = sorted((s for s in stage_names() if s not in HIDDEN),
                    key=lambda s: (PIPELINE_ORDER.index(s) if s in PIPELINE_ORDER else len(PIPELINE_ORDER), s))
    return ([("models", "parameter counts of every model at a given size"),
             ("check-params", "check a params file and print a scale's settings, defaults merged")]
            + [(s, summary(package / "stages" / f"{s}.py")) for s in stages])


def usage() -> str:
    width = max(len(name) for name, _ in listed_commands()) + 2
    rows = "\n".join(f"  {name:<{width}}{text}" for name, text in listed_commands())
    return (f"usage: activemem <command> [options]\n\ncommands:\n{rows}\n\n"
            + plain(__doc__.split("\n\n", 1)[1]))


def check_params(argv: list[str]) -> None:
    """Check the whole params file and print one scale's resolved settings (``defaults`` merged) as
    YAML, itself a valid params file; a bad file is a one-line error per problem and exit status 1."""
    import yaml

    from activemem.config import PRESET, ParamsError, load_params, read
    p = argparse.ArgumentParser(prog="activemem check-params", description=check_params.__doc__,
                                formatter_class=HelpFormatter)
    p.add_argument("--params", default="params.yaml", help="the params file (default params.yaml)")
    p.add_argument("--scale", default=None, help="scale to resolve (default: params 'scale')")
    args = p.parse_args(argv)
    try:
        params = load_params(args.params, args.scale)
    except ParamsError as err:
        sys.exit(f"error: {err}")
    def block(scale_params: dict) -> dict:
        block = {k: v for k, v in scale_params.items()
                 if k not in ("scale", "model_names", "seeds", "min_free_mb", "report", "path")}
        # train.seed is the first of `seeds`, put there by load_params: the file's own key is `seeds`
        block["train"] = {k: v for k, v in block["train"].items() if k != "seed"}
        return block
    # `defaults` and the paper preset as well: both engines track keys of them (activemem/dag.py)
    raw = read(args.params)
    resolved = {"scale": params["scale"], "models": params["model_names"], "seeds": params["seeds"],
                "min_free_mb": params["min_free_mb"], "defaults": raw["defaults"],
                params["scale"]: block(params), "report": params["report"]}
    if params["scale"] != PRESET:
        resolved[PRESET] = block(load_params(args.params, PRESET))

    class Dumper(yaml.SafeDumper):  # mappings one key a line, lists on one line, as in params.yaml
        def ignore_aliases(self, data):  # each value written out, not as an alias of the merge it came from
            return True
    Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
    print(f"# {args.params}, scale {params['scale']}: every setting, defaults merged")
    print(yaml.dump(resolved, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=110), end="")


def main(argv: list[str] | None = None) -> None:
    with quiet_on_closed_pipe():
        _dispatch(list(sys.argv[1:] if argv is None else argv))


def _dispatch(argv: list[str]) -> None:
    commands = ["models", "check-params", *stage_names()]
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="")
        sys.exit(0 if argv else 2)
    name, rest = argv[0], argv[1:]
    if name not in commands:
        listed = ", ".join(n for n, _ in listed_commands())
        print(f"activemem: unknown command {name!r} (commands: {listed}; activemem --help says more)",
              file=sys.stderr)
        sys.exit(2)
    if name == "models":
        importlib.import_module("activemem.models.__main__").main(rest, prog="activemem models")
        return
    if name == "check-params":
        check_params(rest)
        return
    from activemem.stages import pin_kernels
    from activemem.stages._common import run_stage
    pin_kernels(rest)  # before the stage module imports torch
    stage = importlib.import_module(f"activemem.stages.{name}")
    run_stage(stage.main, name, rest, prog=f"activemem {name}")


if __name__ == "__main__":
    main()
