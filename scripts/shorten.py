"""Rule shorten: lines too long for their time even at max_speedup, rewritten shorter by the translator."""
from dubbing.backends import Settings
from dubbing.stages import shorten_lines
from dubbing.step import run_step


def run(sm):
    slots = max(1, sm.resources.api)  # requests in flight: the `api` slots this job holds
    shorten_lines(
        sm.params.tts_dir, sm.input.slots, sm.input.segments, sm.input.script, sm.params.out_dir, sm.output[0],
        max_speedup=sm.params.max_speedup, translate=Settings(**sm.params.translate).holding(slots),
        tts=Settings(**sm.params.tts), cache_dir=sm.params.cache_dir, voices=sm.params.voices, max_concurrent=slots,
        requests_per_minute=sm.params.requests_per_minute,
    )


run_step(snakemake, run)
