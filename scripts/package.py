"""Rule package: results/<video>/<lang>/, the dubbed audio at the video's length, SRT, WebVTT, report."""
from dubbing.stages import package
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: package(
        media=sm.input.media, mix_flac=sm.input.mix_flac, mix_aac=sm.input.mix_aac, srt=sm.input.srt,
        report=sm.input.report, sync=sm.input.sync, language=sm.params.language, audio_dest=sm.output.audio,
        srt_dest=sm.output.srt, vtt_dest=sm.output.vtt, report_dest=sm.output.report, sync_dest=sm.output.sync,
        bitrate=sm.params.bitrate, threads=sm.threads,
    ),
)
