rule evaluate:
    input:
        train=f"results/{SCALE}/{{model}}/seed{{seed}}/train",
        data=rules.prepare.output,
    output:
        evaluation=f"results/{SCALE}/{{model}}/seed{{seed}}/evaluation.json",
        # `snakemake --report`: each model's headline numbers, labelled by model and seed
        metrics=report(f"results/{SCALE}/{{model}}/seed{{seed}}/metrics.json", caption="../report/metrics.rst",
                       category="Per-model metrics", labels={"model": "{model}", "seed": "{seed}"}),
        hypotheses=f"results/{SCALE}/{{model}}/seed{{seed}}/hypotheses.txt",
        greedy=f"results/{SCALE}/{{model}}/seed{{seed}}/hypotheses.greedy.txt",
        long=f"results/{SCALE}/{{model}}/seed{{seed}}/hypotheses.test_long.txt",
    params:
        scale=SCALE,
        settings=settings("evaluate"),
        code=dag.code_digest("evaluate"),
    # The preset fixes the thread count (it shapes the numbers on CPU); Snakemake only schedules it.
    threads: S["train"]["threads"]
    # Decoding uses one GPU (if the preset has any): a local `--resources gpu=N` slot, or
    # `sbatch --gpus=1` on SLURM; memory and wall time come from the profile's defaults there.
    resources:
        gpu=min(S["train"]["gpus"], 1),
    conda:
        "../envs/activemem.yaml"  # with --use-conda; the README's commands run in the current environment
    # kept: the stage's output (shown on the terminal too), Snakemake's measure of the job
    log:
        f"logs/{SCALE}/evaluate/{{model}}-seed{{seed}}.log",
    benchmark:
        f"logs/{SCALE}/evaluate/{{model}}-seed{{seed}}.benchmark.tsv",
    shell:
        dag.shell("evaluate")
