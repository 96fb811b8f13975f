"""Rule original_speech: where the original speaks (voice activity), heard once for every language."""
from dubbing.stages import original_speech
from dubbing.step import run_step

run_step(snakemake, lambda sm: original_speech(source_wav=sm.input[0], dest=sm.output[0]))
