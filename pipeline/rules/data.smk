rule download:
    input:
        code=code("stages/download.py", "data") + STAGE_CODE,
    output:
        directory(f"data/{SCALE}/raw"),
    params:
        scale=SCALE,
        settings=SETTINGS["download"],
    shell:
        "python -m activemem.stages.download --params params.yaml --scale {params.scale} --out {output}"


rule prepare:
    input:
        raw=rules.download.output,
        code=code("stages/prepare.py", "data") + STAGE_CODE,
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
    shell:
        "python -m activemem.stages.prepare --params params.yaml --scale {params.scale} "
        "--raw {input.raw} --out {output}"
