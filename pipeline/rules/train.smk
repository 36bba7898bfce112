rule train:
    input:
        data=rules.prepare.output,
    output:
        directory(f"results/{SCALE}/{{model}}/seed{{seed}}/train"),
    params:
        scale=SCALE,
        # the values this model's training reads: a change reruns this model only
        settings=settings("train"),
        code=dag.code_digest("train"),
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
        dag.shell("train")
