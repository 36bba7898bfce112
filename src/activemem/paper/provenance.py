"""Where the report's numbers came from: the provenance table, its warnings, and the figures' footer.

Each model's ``evaluation.json`` carries a ``provenance`` block (``activemem.provenance``): commit,
whether tracked files had uncommitted edits, the package source hash, library versions, device,
threads, seed and the settings hash. The report ends with these per model; what a reader must not
miss goes to the top as a warning: a dirty tree, models produced by different code or settings, a
model with no provenance at all, a run cut by the wall clock.

The figures carry a one-line footer (commit, ``+dirty``, scale, settings hash) and the same facts in
their PNG/PDF metadata. Nothing here reads a clock: the same inputs give the same bytes.
"""

from __future__ import annotations

from activemem.paper.tables import UNKNOWN, label, ordered, table

# (provenance key, row label, characters shown; 0 = all)
FIELDS = (
    ("git_commit", "Commit", 12),
    ("git_dirty", "Uncommitted edits to tracked files", 0),
    ("activemem_version", "activemem", 0),
    ("source_sha256", "Package source (sha256)", 12),
    ("params_sha256", "Settings (sha256)", 12),
    ("python", "Python", 0),
    ("torch", "torch", 0),
    ("sacrebleu", "sacrebleu", 0),
    ("sentencepiece", "sentencepiece", 0),
    ("device", "Device", 0),
    ("threads", "Threads", 0),
    ("cpu_kernels", "CPU kernels", 0),
    ("seed", "Seed", 0),
)
# a difference between models here means they are not one run of one code and one settings file
MUST_AGREE = {"git_commit": "commits", "source_sha256": "package sources", "params_sha256": "settings"}


def block(metrics: dict) -> dict:
    return metrics.get("provenance") or {}


def kernels_shown(state: dict) -> str:
    """``pinned AVX2`` when the CPU kernels were pinned (``activemem/kernels.py``), else what ran."""
    if state.get("pinned"):
        return f"pinned {state['aten_capability']}"
    return f"{state.get('setting')}: {state.get('aten_capability')} ({state.get('cpu')})"


def shown(value, width: int) -> str:
    if value is None:
        return UNKNOWN
    if isinstance(value, dict) and "pinned" in value:
        return kernels_shown(value)
    if isinstance(value, bool):
        return "**yes**" if value else "no"
    text = str(value)
    return text[:width] if width else text


def provenance_table(names: list[str], metrics: dict[str, dict]) -> dict:
    """One row per provenance field, one column per model, and whether all models agree."""
    names = ordered(names)
    rows = []
    for key, text, width in FIELDS:
        values = [block(metrics[n]).get(key) for n in names]
        agree = "yes" if len({repr(v) for v in values}) == 1 else "**no**"
        rows.append([text, *(shown(v, width) for v in values), agree])
    steps = [f"{metrics[n]['train_steps']} / {metrics[n].get('train_max_steps', UNKNOWN)}" for n in names]
    rows.append(["Training steps / maximum", *steps, "—"])
    cut = ["**yes**" if metrics[n].get("truncated") else "no" for n in names]
    rows.append(["Cut by the wall clock (truncated)", *cut, "—"])
    return table(["", *(label(n) for n in names), "All agree"], rows)


def warnings(names: list[str], metrics: dict[str, dict]) -> list[str]:
    """What a reader must see before any number: dirty trees, mixed code or settings, no provenance,
    truncated training."""
    names = ordered(names)
    out = []
    bare = [label(n) for n in names if not block(metrics[n])]
    if bare:
        out.append(f"No provenance recorded for {', '.join(bare)} (evaluation.json from an older version): "
                   f"the commit and settings behind those numbers are unknown.")
    dirty = [n for n in names if block(metrics[n]).get("git_dirty")]
    if dirty:
        commits = sorted({shown(block(metrics[n]).get("git_commit"), 12) for n in dirty})
        out.append(f"Uncommitted edits: {', '.join(label(n) for n in dirty)} ran from a work tree whose tracked "
                   f"files differ from commit {', '.join(commits)}. These numbers cannot be reproduced from "
                   f"that commit alone.")
    for key, what in MUST_AGREE.items():
        values = {n: block(metrics[n]).get(key) for n in names if block(metrics[n])}
        if len(set(values.values())) > 1:
            detail = "; ".join(f"{label(n)} {shown(v, 12)}" for n, v in values.items())
            out.append(f"The models come from different {what} ({key}: {detail}): they are not one run.")
    unpinned = {n: block(metrics[n])["cpu_kernels"] for n in names if block(metrics[n]).get("device") == "cpu"
                and (block(metrics[n]).get("cpu_kernels") or {}).get("pinned") is False}
    if unpinned:
        detail = "; ".join(f"{label(n)}: {k.get('why_not') or 'train.cpu_kernels is native'} ({k.get('cpu')})"
                           for n, k in unpinned.items())
        out.append(f"CPU kernels not pinned: the numbers are this machine's own and may differ in the last bits, "
                   f"and after training in every digit, from another CPU's ({detail}).")
    cut = [label(n) for n in names if metrics[n].get("truncated")]
    if cut:
        out.append(f"Training cut short by the wall clock for {', '.join(cut)}: marked † wherever their numbers "
                   f"appear; they are not the preset's numbers.")
    return out


def summary(names: list[str], metrics: dict[str, dict], scale: str) -> dict:
    """The facts a figure carries: commit(s) with ``+dirty``, scale, settings hash(es)."""
    blocks = [block(metrics[n]) for n in ordered(names)]

    def joined(key: str, width: int) -> str:
        values = sorted({shown(b.get(key), width) for b in blocks}) or [UNKNOWN]
        return ",".join(values)

    dirty = any(b.get("git_dirty") for b in blocks)
    return {"commit": joined("git_commit", 7) + ("+dirty" if dirty else ""), "scale": scale,
            "params": joined("params_sha256", 8), "source": joined("source_sha256", 8),
            "truncated": ",".join(label(n) for n in ordered(names) if metrics[n].get("truncated"))}


def footer(facts: dict) -> str:
    text = f"activemem {facts['commit']} · scale {facts['scale']} · params {facts['params']}"
    return text + (f" · truncated: {facts['truncated']}" if facts["truncated"] else "")


def figure_metadata(facts: dict, title: str) -> dict[str, dict]:
    """PNG text chunks and PDF info entries (no dates: the bytes depend on the inputs only)."""
    line = footer(facts)
    keywords = (f"commit={facts['commit']} scale={facts['scale']} params_sha256={facts['params']} "
                f"source_sha256={facts['source']}")
    return {"png": {"Title": title, "Description": line, "Comment": keywords},
            "pdf": {"Title": title, "Subject": line, "Keywords": keywords, "CreationDate": None}}
