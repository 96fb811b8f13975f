"""Rule shorten: lines too long for their time even at max_speedup, rewritten shorter by the translator."""
from dubbing.backends import Settings
from dubbing.stages import shorten
from dubbing.step import run_step


def run(sm):
    slots = max(1, sm.resources.api)  # requests in flight: the `api` slots this job holds
    shorten(
        tts_dir=sm.params.tts_dir, slot_jsons=sm.input.slots, segment_jsons=sm.input.segments, script=sm.input.script,
        out_dir=sm.params.out_dir, dest=sm.output[0],
        max_speedup=sm.params.max_speedup, translate=Settings(**sm.params.translate).holding(slots),
        tts=Settings(**sm.params.tts), cache_dir=sm.params.cache_dir, voices=sm.params.voices, max_concurrent=slots,
        requests_per_minute=sm.params.requests_per_minute,
    )


run_step(snakemake, run)
