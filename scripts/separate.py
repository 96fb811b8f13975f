"""Rule separate: the original's voice and its background (music, room, effects), apart (DeepFilterNet3)."""
from dubbing.stages import separate
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: separate(
        source_wav=sm.input.source, background_dest=sm.output.background, voice_dest=sm.output.voice,
        cache_dir=sm.params.cache_dir, speech=sm.input.speech,
    ),
)
