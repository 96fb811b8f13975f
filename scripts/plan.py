"""Rule plan: before anything is sent, what synthesis would cost (prints and writes results/<video>/plan.json)."""
from dubbing.backends import Settings
from dubbing.plan import write_plan
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: write_plan(
        sm.input.segments, sm.params.tts_dir, sm.output[0], Settings(**sm.params.tts), sm.params.cache_dir,
        sm.params.prices, sm.params.max_concurrent, sm.wildcards.video, sm.params.voices,
    ),
)
