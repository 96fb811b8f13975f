"""Rule synth: one segment's speech, raw from the TTS backend."""
from dubbing.backends import Settings
from dubbing.stages import synthesize
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: synthesize(sm.input[0], sm.output[0], Settings(**sm.params.tts), sm.params.manifest),
)
