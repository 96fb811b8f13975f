"""Checkpoint fit: every segment whose speech or slot changed, trimmed and sped up (within max_speedup) to fit."""
from dubbing.stages import fit_all
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: fit_all(sm.input.tts, sm.input.slots, sm.params.fit_dir, sm.output[0], sm.params.max_speedup,
                       sm.threads),
)
