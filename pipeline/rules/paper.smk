rule paper:
    input:
        # everything train and evaluate wrote under results/<scale> (dvc.yaml depends on that folder)
        results=expand(
            "results/{scale}/{model}/seed{seed}/{name}",
            scale=SCALE,
            model=MODELS,
            seed=SEEDS,
            name=["train", "metrics.json", "bleu_by_length.json", "hypotheses.txt", "hypotheses.greedy.txt",
                  "hypotheses.test_long.txt"],
        ),
        data=rules.prepare.output,
        paper=["paper/published.yaml", "paper/claims.yaml"] + sorted(str(p) for p in Path("paper/templates").glob("*.j2")),
        # models: the registry (names, styles) and the Configs (a WMT scale's preset comparison)
        code=code("stages/paper.py", "paper", "evaluate/bleu.py", "evaluate/references.py", "models") + STAGE_CODE,
    output:
        directory(f"paper/build/{SCALE}"),
    params:
        scale=SCALE,
        settings=SETTINGS["paper"],
    shell:
        "python -m activemem.stages.paper --params params.yaml --scale {params.scale} "
        "--results results/{params.scale} --data {input.data} --paper paper --out {output}"
