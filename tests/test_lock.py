"""The one locked environment: requirements/lock.txt pins what pyproject.toml asks for, torch is 2.13.0
wherever a file names it (setup.sh, requirements/torch.txt, the lock), and the two conda environments
(environment.yml, pipeline/envs/activemem.yaml) install activemem with the lock and that pin as constraints.

Offline and fast: the files are read, nothing is installed. ``bash setup.sh`` is what installs from
them (and ``pip check`` at its end checks the installed set).
"""

from __future__ import annotations

import hashlib
import re
import tomllib

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import REPO

TORCH = Version("2.13.0")


def locked_pins(lock_text: str) -> dict[str, tuple[Version, int]]:
    """``{name: (version, number of hashes)}`` of every ``name==version`` entry of a pip-compile lock."""
    pins = {}
    for entry in re.split(r"\n(?=\S)", lock_text):
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", entry)
        if m:
            pins[canonicalize_name(m.group(1))] = (Version(m.group(2)), entry.count("--hash=sha256:"))
    return pins


def locked_extras(lock_script: str) -> list[str]:
    """The extras that requirements/lock.sh compiles the lock for."""
    return re.findall(r"--extra (\S+)", lock_script)


def direct_requirements(pyproject: dict, extras: list[str]) -> list[Requirement]:
    """The project's dependencies plus those of ``extras``, following ``activemem[...]`` references."""
    project = pyproject["project"]
    optional = project.get("optional-dependencies", {})
    found, todo, seen = [Requirement(r) for r in project["dependencies"]], list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        assert extra in optional, f"pyproject.toml has no extra {extra!r}"
        for req in map(Requirement, optional[extra]):
            if canonicalize_name(req.name) == canonicalize_name(project["name"]):
                todo += sorted(req.extras)
            else:
                found.append(req)
    return found


def lock_problems(pyproject: dict, lock_text: str, extras: list[str]) -> list[str]:
    """What is wrong between pyproject.toml and the lock, one line each; [] when they agree."""
    pins = locked_pins(lock_text)
    problems = []
    for req in direct_requirements(pyproject, extras):
        name = canonicalize_name(req.name)
        if name == "torch":  # installed by setup.sh on its own (see its header)
            if TORCH not in req.specifier:
                problems.append(f"pyproject.toml: {req} does not admit torch {TORCH}")
            if name in pins:
                problems.append("requirements/lock.txt pins torch: setup.sh installs it on its own")
        elif name not in pins:
            problems.append(f"requirements/lock.txt does not pin {req.name} ({req})")
        elif pins[name][0] not in req.specifier:
            problems.append(f"requirements/lock.txt pins {req.name}=={pins[name][0]}, outside {req}")
    problems += [f"requirements/lock.txt: {name} has no hash" for name, (_, hashes) in pins.items() if not hashes]
    return problems


def torch_pins(text: str) -> list[str]:
    """Every ``torch==<version>`` written in a file, comments included."""
    return re.findall(r"\btorch==([0-9][0-9A-Za-z.+]*)", text)


def read(name: str) -> str:
    return (REPO / name).read_text()


def test_the_lock_pins_every_direct_dependency_within_its_bounds():
    extras = locked_extras(read("requirements/lock.sh"))
    assert extras == ["pipeline", "test"]  # what setup.sh's environment holds: engines, SLURM, pytest
    pyproject = tomllib.loads(read("pyproject.toml"))
    assert lock_problems(pyproject, read("requirements/lock.txt"), extras) == []


def test_the_engines_are_extras_of_their_own():
    optional = tomllib.loads(read("pyproject.toml"))["project"]["optional-dependencies"]
    names = {extra: {canonicalize_name(Requirement(r).name) for r in reqs} for extra, reqs in optional.items()}
    assert names["snakemake"] == {"snakemake"} and names["dvc"] == {"dvc"}
    assert {str(Requirement(r).extras) for r in optional["pipeline"]} == {str({"snakemake", "dvc"})}
    test = direct_requirements({"project": {"name": "activemem", "dependencies": [],
                                            "optional-dependencies": optional}}, ["test"])
    assert {"pytest", "snakemake", "dvc", "snakemake-executor-plugin-slurm"} <= {canonicalize_name(r.name) for r in test}


def test_every_direct_dependency_has_an_upper_bound():
    pyproject = tomllib.loads(read("pyproject.toml"))
    unbounded = [str(r) for r in direct_requirements(pyproject, list(pyproject["project"]["optional-dependencies"]))
                 if not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)]
    assert unbounded == []


def test_torch_is_2_13_0_wherever_a_file_names_it():
    assert re.search(r"TORCH_SPEC:-torch==2\.13\.0\}", read("setup.sh")), "setup.sh's default TORCH_SPEC"
    assert [line for line in read("requirements/torch.txt").splitlines()
            if line and not line.startswith("#")] == ["torch==2.13.0"]
    for name in ("setup.sh", "environment.yml", "requirements/torch.txt", "requirements/lock.txt"):
        pins = torch_pins(read(name))
        assert pins and set(pins) == {"2.13.0"}, f"{name}: torch=={pins}"


def test_the_check_finds_a_missing_a_stale_and_an_unhashed_pin():
    """The checker itself, on a made-up project: each kind of disagreement is reported."""
    pyproject = {"project": {"name": "demo", "dependencies": ["numpy>=1.26,<3", "torch>=2.4,<2.5"],
                             "optional-dependencies": {"pipeline": ["demo[dvc]"], "dvc": ["dvc>=3.50,<4"],
                                                       "unused": ["pandas<4"]}}}
    lock = ("numpy==3.0.1 \\\n    --hash=sha256:00\n    # via demo\n"
            "torch==2.4.0 \\\n    --hash=sha256:11\n"
            "jinja2==3.1.6\n    # via torch\n")
    assert lock_problems(pyproject, lock, ["pipeline"]) == [
        "requirements/lock.txt pins numpy==3.0.1, outside numpy<3,>=1.26",
        "pyproject.toml: torch<2.5,>=2.4 does not admit torch 2.13.0",
        "requirements/lock.txt pins torch: setup.sh installs it on its own",
        "requirements/lock.txt does not pin dvc (dvc<4,>=3.50)",
        "requirements/lock.txt: jinja2 has no hash",
    ]
    assert torch_pins("pip install torch==2.12.1 # not torch==2.13.0+cpu") == ["2.12.1", "2.13.0+cpu"]


def conda_env(name: str) -> tuple[list[str], list[str]]:
    """The conda packages and the pip lines of a conda environment file."""
    import yaml
    deps = yaml.safe_load(read(name))["dependencies"]
    return [d for d in deps if isinstance(d, str)], next(d["pip"] for d in deps if isinstance(d, dict))


def conda_env_problems(name: str, root: str, extras: list[str]) -> list[str]:
    """What keeps the conda environment file ``name`` from installing what setup.sh installs, one line
    each: Python 3.11 and pip from conda, then activemem editable from ``root`` (the project root as
    seen from the folder conda runs pip in) with ``extras``, its dependencies taken from pyproject.toml
    and constrained to the lock's versions and hashes and torch's pin."""
    conda, pip = conda_env(name)
    requires = tomllib.loads(read("pyproject.toml"))["project"]["requires-python"]
    problems = []
    if sorted(conda) != ["pip>=26.3", "python=3.11"]:  # pip 26.3: the first to check hashed constraints
        problems.append(f"{name}: conda installs {conda}, not python=3.11 and pip>=26.3")
    if not SpecifierSet(requires).contains("3.11"):
        problems.append(f"{name}: python=3.11, outside pyproject.toml's requires-python {requires}")
    editable = f"-e {root}" + (f"[{','.join(extras)}]" if extras else "")
    prefix = "" if root == "." else root + "/"
    for line in ("--no-require-hashes", f"-c {prefix}requirements/torch.txt", f"-c {prefix}requirements/lock.txt",
                 editable):
        if line not in pip:
            problems.append(f"{name}: no pip line {line!r}")
    named = [line for line in pip if not line.startswith("-")]
    if named:  # pyproject.toml names the packages, the lock their versions: a third list would drift
        problems.append(f"{name}: pip installs {named} by name")
    return problems


def test_environment_yml_installs_what_setup_sh_installs():
    """Python 3.11, the lock (its extras: engines, SLURM, pytest), torch 2.13.0 and activemem editable.
    Conda runs pip in the file's folder, the project root."""
    assert conda_env_problems("environment.yml", ".", locked_extras(read("requirements/lock.sh"))) == []
    # the CPU build by default: the header says how to get a CUDA one
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in conda_env("environment.yml")[1]


def test_the_conda_env_of_the_pipeline_jobs_installs_activemem_with_the_lock():
    """pipeline/envs/activemem.yaml (the rules' `conda:`): activemem and its own dependencies, no extras,
    and PyPI's torch (the CUDA build on Linux: a job on a GPU node must find CUDA)."""
    name = "pipeline/envs/activemem.yaml"
    assert conda_env_problems(name, "../..", []) == []
    assert not [line for line in conda_env(name)[1] if "index-url" in line]
    # ../.. is the project root both from pipeline/envs/ and from .snakemake/conda/, where Snakemake
    # copies the file before conda runs pip beside it
    for folder in ("pipeline/envs", ".snakemake/conda"):
        assert (REPO / folder / "../..").resolve() == REPO.resolve()


def test_the_job_environment_changes_with_the_lock():
    """Snakemake reuses a job environment while the file's text is unchanged, and its pip lines only name
    the lock: the stamp line (requirements/lock.sh writes it) carries the lock and torch's pin into it."""
    stamp = hashlib.sha256((REPO / "requirements/lock.txt").read_bytes()
                           + (REPO / "requirements/torch.txt").read_bytes()).hexdigest()[:16]
    lines = re.findall(r"^# lock: sha256 .*$", read("pipeline/envs/activemem.yaml"), re.M)
    assert lines == [f"# lock: sha256 {stamp}"], (
        f"pipeline/envs/activemem.yaml: after a change to requirements/lock.txt or requirements/torch.txt its "
        f"line must read '# lock: sha256 {stamp}' (requirements/lock.sh writes it)")
