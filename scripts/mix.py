"""Rule mix: the dub over the (ducked or replaced) original, loudness-normalized, as FLAC and as the video's AAC."""
from dubbing.stages import mix
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: mix(
        source_wav=sm.input.source, dub_wav=sm.input.dub, dest=sm.output.flac, mode=sm.params.mode,
        duck_db=sm.params.duck_db, lufs=sm.params.lufs, aac_dest=sm.output.aac, bitrate=sm.params.bitrate,
        threads=sm.threads, media=sm.input.media, probe_json=sm.input.probe, speech=sm.input.speech,
        background=sm.input.get("background"), scores_dest=sm.output.scores, unspoken_table=sm.input.unspoken,
    ),
)
