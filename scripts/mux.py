"""Rule mux: the original video stream with the dubbed audio and subtitles."""
from dubbing.stages import mux
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: mux(
        media=sm.input.media, mix_audio_path=sm.input.audio, srt=sm.input.srt, dest=sm.output[0],
        language=sm.params.language, bitrate=sm.params.bitrate,
    ),
)
