"""Rule mix: the dub over the (ducked or replaced) original, loudness-normalized, as FLAC and as the video's AAC."""
from dubbing.stages import mix_audio
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: mix_audio(
        sm.input.source, sm.input.dub, sm.output.flac, sm.params.mode, sm.params.duck_db, sm.params.lufs,
        sm.output.aac, sm.params.bitrate, sm.threads,
    ),
)
