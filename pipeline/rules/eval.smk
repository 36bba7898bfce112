rule evaluate:
    input:
        train=f"results/{SCALE}/{{model}}/train",
        data=rules.prepare.output,
        code=code("stages/evaluate.py", "evaluate", "train", "models", "data") + STAGE_CODE,
    output:
        metrics=f"results/{SCALE}/{{model}}/metrics.json",
        by_length=f"results/{SCALE}/{{model}}/bleu_by_length.json",
        hypotheses=f"results/{SCALE}/{{model}}/hypotheses.txt",
        greedy=f"results/{SCALE}/{{model}}/hypotheses.greedy.txt",
        long=f"results/{SCALE}/{{model}}/hypotheses.test_long.txt",
    params:
        scale=SCALE,
        settings=lambda w: [S["evaluate"], S["train"]["device"]],
    # The preset fixes the thread count (it shapes the numbers on CPU); Snakemake only schedules it.
    threads: S["train"]["threads"]
    # Decoding uses one GPU (if the preset has any): a local `--resources gpu=N` slot, or
    # `sbatch --gpus=1` on SLURM; memory and wall time come from the profile's defaults there.
    resources:
        gpu=min(S["train"]["gpus"], 1),
    shell:
        "python -m activemem.stages.evaluate --params params.yaml --scale {params.scale} "
        "--model {wildcards.model} --data {input.data} --checkpoint {input.train}/checkpoint.pt "
        "--out results/{params.scale}/{wildcards.model}"
