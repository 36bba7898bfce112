rule train:
    input:
        data=rules.prepare.output,
        code=code("stages/train.py", "lineage.py", "train", "evaluate", "models", "data") + STAGE_CODE,
    output:
        directory(f"results/{SCALE}/{{model}}/seed{{seed}}/train"),
    params:
        scale=SCALE,
        # the values this model's training reads: a change reruns this model only
        settings=lambda w: SETTINGS[f"train@{w.model}"],
    # The preset fixes the thread count (it shapes the numbers on CPU); Snakemake only schedules it.
    threads: S["train"]["threads"]
    # Locally, `gpu` is counted against `snakemake --resources gpu=N`; on SLURM the executor plugin
    # turns it into `sbatch --gpus=N` (pipeline/profiles/slurm). One node: the stage's torchrun
    # (--standalone, one process per GPU) needs all of the job's GPUs on the node it runs on.
    resources:
        gpu=S["train"]["gpus"],
        nodes=1,
        mem_mb=S["train"]["mem_mb"],
        runtime=S["train"]["runtime_min"],
    conda:
        "../envs/activemem.yaml"  # with --use-conda; the README's commands run in the current environment
    # kept: the stage's output (shown on the terminal too), Snakemake's measure of the job
    log:
        f"logs/{SCALE}/train/{{model}}-seed{{seed}}.log",
    benchmark:
        f"logs/{SCALE}/train/{{model}}-seed{{seed}}.benchmark.tsv",
    shell:
        "python -m activemem.stages.train --params params.yaml --scale {params.scale} "
        "--model {wildcards.model} --seed {wildcards.seed} --data {input.data} --out {output} "
        "--work checkpoints/{params.scale}/{wildcards.model}/seed{wildcards.seed} 2>&1 | tee {log}"
