rule download:
    input:
        code=code("stages/download.py", "data") + REGISTRY_CODE + STAGE_CODE,
    output:
        directory(f"data/{SCALE}/raw"),
    params:
        scale=SCALE,
        settings=SETTINGS["download"],
    conda:
        "../envs/activemem.yaml"  # with --use-conda; the README's commands run in the current environment
    # kept: the stage's output (shown on the terminal too), Snakemake's measure of the job
    log:
        f"logs/{SCALE}/download.log",
    benchmark:
        f"logs/{SCALE}/download.benchmark.tsv",
    shell:
        "python -m activemem.stages.download --params params.yaml --scale {params.scale} --out {output} 2>&1 | tee {log}"


rule prepare:
    input:
        raw=rules.download.output,
        code=code("stages/prepare.py", "lineage.py", "data") + REGISTRY_CODE + STAGE_CODE,
    output:
        directory(f"data/{SCALE}/prepared"),
    params:
        scale=SCALE,
        settings=SETTINGS["prepare"],
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
        "python -m activemem.stages.prepare --params params.yaml --scale {params.scale} "
        "--raw {input.raw} --out {output} 2>&1 | tee {log}"
