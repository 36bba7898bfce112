rule paper:
    input:
        # everything train and evaluate wrote under results/<scale> (dvc.yaml depends on that folder)
        results=expand(
            "results/{scale}/{model}/seed{seed}/{name}",
            scale=SCALE,
            model=MODELS,
            seed=SEEDS,
            name=["train", "evaluation.json", "metrics.json", "hypotheses.txt", "hypotheses.greedy.txt",
                  "hypotheses.test_long.txt"],
        ),
        data=rules.prepare.output,
        paper=["paper/published.yaml", "paper/claims.yaml", "paper/claims.algorithmic.yaml"] + sorted(str(p) for p in Path("paper/templates").glob("*.j2")),
        # the committed snapshots the report compares its numbers with (activemem/paper/snapshot_diff.py): the
        # whole folder, as DVC has it, since a scale may have no snapshot and DVC cannot depend on a missing path
        snapshot=sorted(str(p) for p in Path("paper/snapshot").rglob("*") if p.is_file()),
    # `snakemake --report report.zip`: the report, Table 1, the figures and the claims (caption: pipeline/report)
    output:
        report(
            directory(f"paper/build/{SCALE}"),
            # one pattern, the extension a wildcard of its own, so report.md and report.html get labels of
            # their own (the extension in the label) instead of two entries both called "report"
            patterns=["{name}.{ext,png|html|md|json}"],
            caption="../report/paper.rst",
            category="Paper",
            labels={"file": "{name}.{ext}"},
        ),
    params:
        scale=SCALE,
        settings=settings("paper"),
        code=dag.code_digest("paper"),
    conda:
        "../envs/activemem.yaml"  # with --use-conda; the README's commands run in the current environment
    # kept: the stage's output (shown on the terminal too), Snakemake's measure of the job
    log:
        f"logs/{SCALE}/paper.log",
    benchmark:
        f"logs/{SCALE}/paper.benchmark.tsv",
    shell:
        dag.shell("paper")
