"""Rule transcribe: timed transcript from subtitles or speech recognition."""
from dubbing.backends import Settings
from dubbing.stages import transcribe
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: transcribe(sm.input.audio, sm.input.get("subtitles"), sm.output[0], Settings(**sm.params.asr)),
)
