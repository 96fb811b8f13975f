"""Rule clone_voices: each named speaker's own voice, cloned at ElevenLabs (results/<video>/clones.json)."""
from dubbing.stages import clone_voices
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: clone_voices(
        script_path=sm.input.script, source_wav=sm.input.audio, dest=sm.output[0], video=sm.wildcards.video,
        cache_dir=sm.params.cache_dir, voices=sm.params.voices, timeout=sm.params.timeout,
        max_retries=sm.params.max_retries,
    ),
)
