"""Rule mux: the original video stream with every dub's audio and subtitles, and the original sound."""
from dubbing.stages import mux
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: mux(
        media=sm.input.media, mixes=list(sm.input.audio), srts=list(sm.input.srt), dest=sm.output[0],
        languages=sm.params.languages, bitrate=sm.params.bitrate, default=sm.params.default,
        probe_json=sm.input.probe, source_language=sm.params.source_language,
        transcript_json=sm.input.transcript[0] if sm.input.transcript else None,
    ),
)
