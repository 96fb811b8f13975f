# Synthesis, in one of two modes (config synth_mode), both writing results/<video>/tts/<id>.wav
# through the shared cache:
# - per-segment: each segment is its own job, so `--cores N` runs N at once; the `api`
#   resource caps cloud requests in flight at max_concurrent whatever --cores says;
# - async: one job per video sends every stale segment from one event loop (aiolimiter RPM cap,
#   adaptive concurrency up to the `api` slots it holds: the whole pool, so two videos' batches
#   take turns instead of doubling the requests in flight; live progress bar); an offline voice
#   is loaded once.
# - auto (the default): async for offline backends (Piper: loading the voice costs more than a
#   line), per-segment for cloud backends.


if synth_mode() == "per-segment":

    rule synth:
        input:
            "results/{video}{dub}/segments/{seg}.json",
        output:
            wav="results/{video}{dub}/tts/{seg}.wav",
            record="results/{video}{dub}/tts/{seg}.json",
        log:
            "logs/{video}{dub}/synth/{seg}.log",
        benchmark:
            "benchmarks/{video}{dub}/synth/{seg}.tsv"
        conda:
            "../envs/tts.yaml"
        resources:
            api=api_slots(),
        params:
            tts=tts_settings(),
            voices=config["voices"],
            manifest="results/{video}{dub}/segments.tsv",
            cache_dir=config["cache_dir"],
            requests_per_minute=config["requests_per_minute"],  # spaced across jobs (flow.space_request)
            pacing="results/{video}{dub}/pacing.json",  # read: a too-slow line is voiced faster at once
        script:
            "../scripts/synth.py"

else:

    # Writes tts/<id>.wav (and .json) for the stale lines; synth_batch.json, rewritten by every run,
    # is what the readers of tts/ depend on (input function `synthesized`).
    rule synth_batch:
        input:
            segments=segment_jsons,
            script="results/{video}{dub}/segments.tsv",
        output:
            "results/{video}{dub}/synth_batch.json",
        log:
            "logs/{video}{dub}/synth_async.log",
        benchmark:
            "benchmarks/{video}{dub}/synth_async.tsv"
        conda:
            "../envs/tts.yaml"
        resources:
            api=tts_batch_slots(),
        params:
            tts=tts_settings(),
            voices=config["voices"],
            tts_dir="results/{video}{dub}/tts",
            cache_dir=config["cache_dir"],
            requests_per_minute=config["requests_per_minute"],
            pacing="results/{video}{dub}/pacing.json",  # read: a too-slow line is voiced faster at once
        script:
            "../scripts/synth_batch.py"


# One job per video: it paces the whole video at once (placement.pace), voices again at a faster
# rate the lines that need it, and fits only the segments whose speech, slot or pace changed
# (fit/<id>.json records what each was fitted from). A job per segment would cost more in start-up
# than the fitting itself, and the pace of a line depends on its neighbours.
# Lines that would overrun their time even at max_speedup, rewritten shorter by the translator and
# voiced again (only when a translator wrote the script; see scripts/dubbing/shorten.py).
rule shorten:
    input:
        tts=synthesized,
        slots=slot_jsons,
        segments=segment_jsons,
        script="results/{video}{dub}/segments.tsv",
    output:
        "results/{video}{dub}/shortened.tsv",
    log:
        "logs/{video}{dub}/shorten.log",
    benchmark:
        "benchmarks/{video}{dub}/shorten.tsv"
    conda:
        "../envs/tts.yaml"
    resources:
        api=shorten_slots,
    params:
        tts_dir="results/{video}{dub}/tts",
        out_dir="results/{video}{dub}/shortened",
        max_speedup=config["max_speedup"],
        translate=translate_settings,
        tts=tts_settings(),
        voices=config["voices"],
        cache_dir=config["cache_dir"],
        requests_per_minute=config["requests_per_minute"],
    script:
        "../scripts/shorten.py"


# fit.tsv lists the lines; fit/<id>.wav and fit/<id>.json beside it are the fitted lines, rewritten
# only where they changed, and every reader of them takes fit.tsv as its input.
rule fit:
    input:
        tts=synthesized,
        slots=slot_jsons,
        segments=segment_jsons,
        script="results/{video}{dub}/segments.tsv",
        shortened=shortened_for,
    output:
        "results/{video}{dub}/fit.tsv",
    log:
        "logs/{video}{dub}/fit.log",
    benchmark:
        "benchmarks/{video}{dub}/fit.tsv"
    conda:
        "../envs/tts.yaml"
    threads: 2
    resources:
        api=fit_slots,
    params:
        tts_dir="results/{video}{dub}/tts",
        paced_dir="results/{video}{dub}/paced",
        max_speedup=config["max_speedup"],
        tts=tts_settings(),
        voices=config["voices"],
        cache_dir=config["cache_dir"],
        requests_per_minute=config["requests_per_minute"],
    script:
        "../scripts/fit.py"


rule synth_index:
    input:
        tts=synthesized,
        script="results/{video}{dub}/segments.tsv",
    output:
        "results/{video}{dub}/synth.tsv",
    log:
        "logs/{video}{dub}/synth_index.log",
    benchmark:
        "benchmarks/{video}{dub}/synth_index.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        tts_dir="results/{video}{dub}/tts",
    script:
        "../scripts/synth_index.py"


rule plan:
    input:
        segments=segment_jsons,
        slots=slot_jsons,
        script="results/{video}{dub}/segments.tsv",
    output:
        "results/{video}{dub}/plan.json",
    log:
        "logs/{video}{dub}/plan.log",
    benchmark:
        "benchmarks/{video}{dub}/plan.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        tts=tts_settings(),
        voices=config["voices"],
        tts_dir="results/{video}{dub}/tts",
        cache_dir=config["cache_dir"],
        prices=config["prices"],
        max_concurrent=config["max_concurrent"],
        max_speedup=config["max_speedup"],
        title=dub_title,  # the video (and the language, with several)
        shortens=lambda wildcards: bool(shortened_for(wildcards)),  # a translator will say long lines shorter
    script:
        "../scripts/plan.py"
