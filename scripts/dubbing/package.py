"""What a platform takes for one language (issue 23): ``results/<video>/<lang>/``.

YouTube (Studio, "Languages") takes one audio file per language, as long as the video; players and
web pages take WebVTT; every other tool takes SubRip. The package holds the language's dubbed mix
as ``<video>.<lang>.m4a`` (AAC, exactly the video stream's length: padded with silence or cut at the
sample), its subtitles as ``<video>.<lang>.srt`` and ``.vtt``, and its report page and sync table.
Everything is made from files the workflow already wrote; nothing is sent.
"""

import json
import shutil
import subprocess
from pathlib import Path

from . import aac
from .audio import FFMPEG, SAMPLE_RATE, run_tool, tool_error
from .errors import DubbingError
from .files import atomic_output, write_text_atomic
from .subtitles import format_timestamp, read_cues


def video_seconds(media):
    """The length of the video stream (what a platform lines the audio up against), else the file's."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=duration:format=duration",
           "-print_format", "json", str(media)]
    info = json.loads(run_tool(cmd, media, "reading the video's length (ffprobe)"))
    for value in [s.get("duration") for s in info.get("streams", [])] + [info.get("format", {}).get("duration")]:
        try:
            if float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    raise DubbingError(media, "has no readable length")


def audio_at_length(mix, seconds, dest, channels, bitrate, threads=1):
    """``mix`` as AAC in MP4 at exactly ``seconds`` (to the sample): silence added at the end, or the end cut."""
    total = int(round(seconds * SAMPLE_RATE))
    cmd = FFMPEG + ["-i", str(mix), "-af", f"aresample={SAMPLE_RATE},apad=whole_len={total},atrim=end_sample={total}",
                    "-ac", str(channels), "-f", "s16le", "-"]
    with aac.PartedEncoder(dest, total, channels, bitrate, max(1, threads)) as encoder:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            encoder.feed(proc.stdout)
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode("utf-8", "replace")
            code = proc.wait()
        if code:
            raise tool_error(dest, "cutting the dub to the video's length", err, code)
        encoder.finish()


def _vtt_text(text):
    """Cue text as WebVTT reads it: markup characters are text, never tags (a line may hold anything)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("-->", "--&gt;")


def format_vtt(cues, language):
    """WebVTT for ``cues``: each speaker as a voice span (``<v Name>``), the language in the header."""
    blocks = [f"WEBVTT\nLanguage: {language}\n"]
    for cue in cues:
        text = _vtt_text(cue.text)
        if cue.speaker:
            text = f"<v {_vtt_text(cue.speaker)}>{text}"
        blocks.append(f"{format_timestamp(cue.start, '.')} --> {format_timestamp(cue.end, '.')}\n{text}\n")
    return "\n".join(blocks)


def _audio_seconds_and_channels(path):
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=duration,channels",
           "-print_format", "json", str(path)]
    stream = json.loads(run_tool(cmd, path, "reading the mix (ffprobe)"))["streams"][0]
    return float(stream["duration"]), int(stream["channels"])


def write_package(*, media, mix_flac, mix_aac, srt, report, sync, language, audio_dest, srt_dest, vtt_dest,
                  report_dest, sync_dest, bitrate, threads=1):
    """The language's package: the mix at the video's length (the AAC the mux uses, copied, when it already
    is; else padded or cut and encoded again), the subtitles as SRT and WebVTT, the report and sync table."""
    seconds = video_seconds(media)
    mix_seconds, channels = _audio_seconds_and_channels(mix_flac)
    if abs(mix_seconds - seconds) < 0.5 / 1000:
        _copy(mix_aac, audio_dest)
    else:
        audio_at_length(mix_flac, seconds, audio_dest, channels, bitrate, threads)
    _copy(srt, srt_dest)
    write_text_atomic(vtt_dest, format_vtt(read_cues(srt), language))
    _copy(report, report_dest)
    _copy(sync, sync_dest)


def _copy(source, dest):
    with atomic_output(dest, Path(dest).suffix) as tmp:
        shutil.copyfile(source, tmp)
