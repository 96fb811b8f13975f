"""Rule transcribe: timed transcript from subtitles or speech recognition."""
from dubbing.backends import Settings
from dubbing.stages import transcribe
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: transcribe(source_wav=sm.input.audio, subtitles_path=sm.input.get("subtitles"), dest=sm.output[0],
                          settings=Settings(**sm.params.asr)),
)
