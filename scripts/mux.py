"""Rule mux: the original video stream with the dubbed audio and subtitles."""
from dubbing.stages import mux_video
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: mux_video(
        sm.input.media, sm.input.audio, sm.input.srt, sm.output[0], sm.params.language, sm.params.bitrate
    ),
)
