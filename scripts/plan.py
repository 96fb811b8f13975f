"""Rule plan: before anything is sent, what synthesis would cost (prints and writes results/<video>/plan.json)."""
from dubbing.backends import Settings
from dubbing.stages import plan
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: plan(
        segment_jsons=sm.input.segments, tts_dir=sm.params.tts_dir, dest=sm.output[0], settings=Settings(**sm.params.tts),
        cache_dir=sm.params.cache_dir, prices=sm.params.prices, max_concurrent=sm.params.max_concurrent,
        video=sm.params.title, voices=sm.params.voices, slot_jsons=sm.input.slots,
        max_speedup=sm.params.max_speedup, shortens=sm.params.shortens,
    ),
)
