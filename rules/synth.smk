# Per segment: synthesize the raw speech, then fit it to its slot. Each is its own job, so
# `--cores N` runs N at once and an edit to one line re-runs that line only.


rule synth:
    input:
        "results/{video}/segments/{seg}.json",
    output:
        "results/{video}/tts/{seg}.wav",
    log:
        "logs/{video}/synth/{seg}.log",
    benchmark:
        "benchmarks/{video}/synth/{seg}.tsv"
    conda:
        "../envs/tts.yaml"
    params:
        tts=tts_settings(),
        manifest="results/{video}/segments.tsv",
    script:
        "../scripts/synthesize.py"


rule fit:
    input:
        tts="results/{video}/tts/{seg}.wav",
        slot="results/{video}/slots/{seg}.json",
    output:
        wav="results/{video}/fit/{seg}.wav",
        report="results/{video}/fit/{seg}.json",
    log:
        "logs/{video}/fit/{seg}.log",
    conda:
        "../envs/audio.yaml"
    params:
        max_speedup=config["max_speedup"],
    script:
        "../scripts/fit.py"
