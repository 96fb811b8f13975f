"""Rule extract_audio: the source audio as a 48 kHz WAV."""
from dubbing.stages import extract_audio
from dubbing.step import run_step

run_step(snakemake, lambda sm: extract_audio(sm.input.media, sm.input.probe, sm.output[0]))
