# Synthesis, in one of two modes (config synth_mode), both writing results/<video>/tts/<id>.wav
# through the shared cache:
# - per-segment: each segment is its own job, so `--cores N` runs N at once; the `api`
#   resource caps cloud requests in flight at max_concurrent whatever --cores says;
# - async: one job per video sends every stale segment from one event loop (aiolimiter RPM cap,
#   adaptive concurrency up to max_concurrent, live progress bar); an offline voice is loaded once.
# - auto (the default): async for offline backends (Piper: loading the voice costs more than a
#   line), per-segment for cloud backends.


if synth_mode() == "per-segment":

    rule synth:
        input:
            "results/{video}/segments/{seg}.json",
        output:
            wav="results/{video}/tts/{seg}.wav",
            record="results/{video}/tts/{seg}.json",
        log:
            "logs/{video}/synth/{seg}.log",
        benchmark:
            "benchmarks/{video}/synth/{seg}.tsv"
        conda:
            "../envs/tts.yaml"
        resources:
            api=api_slots(),
        params:
            tts=tts_settings(),
            voices=config["voices"],
            manifest="results/{video}/segments.tsv",
            cache_dir=config["cache_dir"],
        script:
            "../scripts/synthesize.py"

else:

    checkpoint synth_batch:
        input:
            segments=segment_jsons,
        output:
            "results/{video}/synth_batch.json",
        log:
            "logs/{video}/synth_async.log",
        benchmark:
            "benchmarks/{video}/synth_async.tsv"
        conda:
            "../envs/tts.yaml"
        params:
            tts=tts_settings(),
            voices=config["voices"],
            manifest="results/{video}/segments.tsv",
            tts_dir="results/{video}/tts",
            cache_dir=config["cache_dir"],
            max_concurrent=config["max_concurrent"],
            requests_per_minute=config["requests_per_minute"],
        script:
            "../scripts/synthesize_batch.py"


# One job per video: it fits only the segments whose speech or slot changed (fit/<id>.json records
# what each was fitted from), so a job per segment's start-up cost is not paid 600 times.
checkpoint fit:
    input:
        tts=tts_wavs,
        slots=slot_jsons,
    output:
        "results/{video}/fit.tsv",
    log:
        "logs/{video}/fit.log",
    benchmark:
        "benchmarks/{video}/fit.tsv"
    conda:
        "../envs/audio.yaml"
    threads: 2
    params:
        fit_dir="results/{video}/fit",
        max_speedup=config["max_speedup"],
    script:
        "../scripts/fit.py"


rule synth_index:
    input:
        tts_wavs,
    output:
        "results/{video}/synth.tsv",
    log:
        "logs/{video}/synth_index.log",
    benchmark:
        "benchmarks/{video}/synth_index.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/synth_index.py"


rule plan:
    input:
        segments=segment_jsons,
    output:
        "results/{video}/plan.json",
    log:
        "logs/{video}/plan.log",
    benchmark:
        "benchmarks/{video}/plan.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        tts=tts_settings(),
        voices=config["voices"],
        tts_dir="results/{video}/tts",
        cache_dir=config["cache_dir"],
        prices=config["prices"],
        max_concurrent=config["max_concurrent"],
    script:
        "../scripts/plan.py"
