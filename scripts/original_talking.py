"""Rule original_talking: where the original may speak (voice activity and the recognizer's words), for the
ducks of mix_mode separate."""
from dubbing.stages import original_talking
from dubbing.step import run_step

run_step(snakemake, lambda sm: original_talking(speech_npy=sm.input.speech,
                                                transcript_json=(list(sm.input.transcript) or [None])[0],
                                                dest=sm.output[0]))
