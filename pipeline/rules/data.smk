rule download:
    output:
        directory(f"data/{SCALE}/raw"),
    params:
        scale=SCALE,
        settings=settings("download"),
        code=dag.code_digest("download"),
    conda:
        "../envs/activemem.yaml"  # with --use-conda; the README's commands run in the current environment
    # kept: the stage's output (shown on the terminal too), Snakemake's measure of the job
    log:
        f"logs/{SCALE}/download.log",
    benchmark:
        f"logs/{SCALE}/download.benchmark.tsv",
    shell:
        dag.shell("download")


rule prepare:
    input:
        raw=rules.download.output,
    output:
        directory(f"data/{SCALE}/prepared"),
    params:
        scale=SCALE,
        settings=settings("prepare"),
        code=dag.code_digest("prepare"),
    # sentencepiece's threads (the stage lowers them to the cores given; spm.model records the count);
    # memory and wall time measured by benchmarks/prepare_scale.py, per scale in params.yaml
    threads: S["prepare"]["threads"]
    resources:
        mem_mb=S["prepare"]["mem_mb"],
        runtime=S["prepare"]["runtime_min"],
    conda:
        "../envs/activemem.yaml"  # with --use-conda; the README's commands run in the current environment
    # kept: the stage's output (shown on the terminal too), Snakemake's measure of the job
    log:
        f"logs/{SCALE}/prepare.log",
    benchmark:
        f"logs/{SCALE}/prepare.benchmark.tsv",
    shell:
        dag.shell("prepare")
