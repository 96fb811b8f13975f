"""Rule extract_audio: the source audio as a 48 kHz WAV."""
from dubbing.stages import extract_audio
from dubbing.step import run_step

run_step(snakemake, lambda sm: extract_audio(media=sm.input.media, probe_json=sm.input.probe, dest=sm.output[0]))
