"""Rule shorten: lines too long for their time even at max_speedup, rewritten shorter by the translator."""
from dubbing.backends import Settings
from dubbing.stages import shorten_lines
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: shorten_lines(
        sm.input.tts, sm.input.slots, sm.input.segments, sm.input.script, sm.params.out_dir, sm.output[0],
        max_speedup=sm.params.max_speedup, translate=Settings(**sm.params.translate), tts=Settings(**sm.params.tts),
        cache_dir=sm.params.cache_dir, voices=sm.params.voices, max_concurrent=sm.params.max_concurrent,
        requests_per_minute=sm.params.requests_per_minute,
    ),
)
