"""Rule fit: one segment's speech trimmed and sped up (within max_speedup) to fit its slot."""
from dubbing.stages import fit
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: fit(sm.input.tts, sm.input.slot, sm.output.wav, sm.output.report, sm.params.max_speedup),
)
