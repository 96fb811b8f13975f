#!/usr/bin/env python3
"""Generate the bundled demo media and the test fixtures for the dubbing pipeline.

Everything is synthesised locally (no downloads) with ``espeak-ng`` and
``ffmpeg``, so the files can be rebuilt at any time and, with the same tool
versions, come out byte-for-byte identical:

* ``media/demo.mp4``            ~29 s test picture + Spanish narration (espeak-ng)
                                over a quiet continuous background chord.
* ``media/demo.srt``            Spanish subtitles, one cue per utterance.
* ``media/demo.script.tsv``     the edited English translation script.
* ``tests/data/english.mp4``    ~11 s clip with two English sentences (for ASR tests).
* ``tests/data/english.expected.json``  those sentences with their timings.
* ``tests/data/noaudio.mp4``    3 s clip with a video stream and no audio stream.
* ``tests/data/notavideo.mp4``  a text file with a video extension.

Each utterance is rendered by espeak-ng, its leading and trailing silence is
trimmed, and it is placed so that speech starts exactly at the stated time.
Cue end times are start + the measured duration of the trimmed clip.

Usage: python3 tools/make_demo_media.py [--out-root DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator, NoReturn

# --------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------

# (start seconds, Spanish line as spoken, English translation as edited)
DEMO_UTTERANCES = [
    (1.00, "Bienvenidos a esta breve lección sobre el agua.",
     "Welcome to this short lesson about water."),
    (5.50, "El agua cubre casi tres cuartas partes de la Tierra.",
     "Water covers almost three quarters of the Earth."),
    (10.20, "La mayor parte del agua del planeta es salada.",
     "Most of the planet's water is salty."),
    (14.80, "El sol calienta el agua y la convierte en vapor.",
     "The sun heats water and turns it into vapor."),
    (19.30, "El vapor forma nubes, y las nubes nos traen la lluvia.",
     "Vapor forms clouds, and clouds bring us rain."),
    (23.80, "Gracias por su atención y hasta la próxima.",
     "Thanks for listening, and see you next time."),
]
DEMO_DURATION = 29.0
DEMO_VOICE = "es"
DEMO_SPEAKER = "narrator"

# (start seconds, English sentence)
ENGLISH_UTTERANCES = [
    (1.00, "The quick brown fox jumps over the lazy dog."),
    (6.00, "Water boils at one hundred degrees."),
]
ENGLISH_DURATION = 11.0
ENGLISH_VOICE = "en-us"

NOAUDIO_DURATION = 3.0

NOT_A_VIDEO_TEXT = (
    b"This is not a video file.\n"
    b"It is a plain text fixture used to test the pipeline's error handling.\n"
)

# --------------------------------------------------------------------------
# Technical settings
# --------------------------------------------------------------------------

ESPEAK_RATE = 140            # words per minute
TRIM_THRESHOLD = "-50dB"     # silence threshold used to trim espeak-ng output
SPEECH_GAIN_DB = -4         # espeak-ng peaks near 0 dBFS; leave AAC headroom
MIN_GAP_AFTER = 0.4          # seconds of silence required after each utterance
SAMPLE_RATE = 48000
AUDIO_BITRATE = "96k"

VIDEO_SOURCE = "testsrc2=size=320x240:rate=10"
VIDEO_OPTS = [
    "-c:v", "libx264", "-preset", "veryslow", "-crf", "35",
    "-tune", "stillimage", "-pix_fmt", "yuv420p", "-g", "300",
    "-threads", "1",
]
# Quiet background bed: a soft A-major chord (A3 C#4 E4), peak about -38 dBFS
# (RMS about -46 dBFS), so it stays under a -35 dB silence-detection threshold
# but is still audible, and its ducking noticeable, between the utterances.
BED_EXPR = ("0.0042*sin(2*PI*220*t)+0.0042*sin(2*PI*277.18*t)"
            "+0.0042*sin(2*PI*329.63*t)")
NO_BED_EXPR = "0"
# Options that keep reruns byte-identical (no encoder/version tags, no dates).
BITEXACT_OPTS = [
    "-map_metadata", "-1", "-fflags", "+bitexact",
    "-flags:v", "+bitexact", "-flags:a", "+bitexact",
]

# English TTS reading speed assumed when checking that the translation fits.
ENGLISH_CHARS_PER_SEC = 14.0
MAX_SPEEDUP = 1.2

REQUIRED_TOOLS = ("espeak-ng", "ffmpeg", "ffprobe")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def fail(message: str) -> NoReturn:
    sys.exit(f"make_demo_media: error: {message}")


def check_tools() -> None:
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            fail(f"required program '{tool}' not found on PATH "
                 f"(install espeak-ng and ffmpeg)")


def run(cmd: list[str]) -> str:
    """Run a command, return its stdout; abort with its stderr tail on failure."""
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        fail(f"{cmd[0]} exited with {proc.returncode}: {tail[0]}")
    return proc.stdout


def ffmpeg(*args: str) -> None:
    run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         *args])


def probe_duration(path: Path) -> float:
    out = run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
               "-of", "default=noprint_wrappers=1:nokey=1", str(path)])
    return float(out.strip())


def to_ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def srt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def seconds_str(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


# --------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------

def synth_speech(text: str, voice: str, out_wav: Path, tmp: Path) -> int:
    """Render `text` with espeak-ng, trim silence at both ends, attenuate
    and resample.

    Returns the duration of the trimmed clip in milliseconds.
    """
    raw = tmp / (out_wav.stem + ".raw.wav")
    run(["espeak-ng", "-v", voice, "-s", str(ESPEAK_RATE), "-w", str(raw),
         text])
    trim = f"silenceremove=start_periods=1:start_threshold={TRIM_THRESHOLD}"
    ffmpeg("-i", str(raw),
           "-af", f"{trim},areverse,{trim},areverse,"
                  f"volume={SPEECH_GAIN_DB}dB,aresample={SAMPLE_RATE}",
           "-ac", "1", "-c:a", "pcm_s16le", "-fflags", "+bitexact",
           str(out_wav))
    return to_ms(probe_duration(out_wav))


def mix_track(clips: list[tuple[int, Path]], duration: float, bed_expr: str,
              out_wav: Path) -> None:
    """Mix speech clips (start ms, wav) over a background bed of `duration` s."""
    inputs = ["-f", "lavfi", "-i",
              f"aevalsrc={bed_expr}:s={SAMPLE_RATE}:c=mono:d={duration}"]
    chains = []
    labels = ["[0:a]"]
    for index, (start_ms, wav) in enumerate(clips, start=1):
        inputs += ["-i", str(wav)]
        chains.append(f"[{index}:a]adelay=delays={start_ms}:all=1[s{index}]")
        labels.append(f"[s{index}]")
    chains.append(f"{''.join(labels)}amix=inputs={len(labels)}:"
                  f"duration=first:dropout_transition=0:normalize=0[out]")
    ffmpeg(*inputs, "-filter_complex", ";".join(chains), "-map", "[out]",
           "-c:a", "pcm_s16le", "-fflags", "+bitexact", str(out_wav))


def place_utterances(texts: list[tuple[float, str]], voice: str,
                     duration: float, tmp: Path, prefix: str
                     ) -> list[tuple[int, int, Path]]:
    """Synthesise each (start, text); return (start_ms, end_ms, wav) rows.

    Verifies that utterances do not overlap and leave MIN_GAP_AFTER seconds of
    silence before the next one (and before the end of the clip).
    """
    rows = []
    for number, (start, text) in enumerate(texts, start=1):
        wav = tmp / f"{prefix}{number:02d}.wav"
        length_ms = synth_speech(text, voice, wav, tmp)
        start_ms = to_ms(start)
        rows.append((start_ms, start_ms + length_ms, wav))
    limits = [row[0] for row in rows[1:]] + [to_ms(duration)]
    for number, ((_, end_ms, _), limit_ms) in enumerate(zip(rows, limits), 1):
        if end_ms + to_ms(MIN_GAP_AFTER) > limit_ms:
            fail(f"{prefix} utterance {number} ends at {end_ms / 1000:.3f} s, "
                 f"less than {MIN_GAP_AFTER} s before {limit_ms / 1000:.3f} s; "
                 f"adjust the start times")
    return rows


# --------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------

def encode_mp4(out_mp4: Path, duration: float, audio_wav: Path | None) -> None:
    """Encode the test picture (and optional audio) into `out_mp4` atomically."""
    args = ["-f", "lavfi", "-i", f"{VIDEO_SOURCE}:duration={duration}"]
    if audio_wav is not None:
        args += ["-i", str(audio_wav), "-map", "0:v", "-map", "1:a",
                 "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(SAMPLE_RATE),
                 "-ac", "1"]
    else:
        args += ["-map", "0:v", "-an"]
    args += [*VIDEO_OPTS, "-t", str(duration), *BITEXACT_OPTS,
             "-movflags", "+faststart"]
    with atomic_path(out_mp4) as tmp_path:
        ffmpeg(*args, "-f", "mp4", str(tmp_path))


# --------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temp path next to `final`; on success move it into place with
    os.replace, on failure remove it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.",
                                suffix=".tmp")
    os.close(fd)
    tmp_path = Path(name)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(final: Path, data: bytes) -> None:
    with atomic_path(final) as tmp_path:
        tmp_path.write_bytes(data)


def write_srt(final: Path, cues: list[tuple[int, int, str]]) -> None:
    blocks = [f"{n}\n{srt_time(start)} --> {srt_time(end)}\n{text}\n"
              for n, (start, end, text) in enumerate(cues, start=1)]
    write_bytes(final, "\n".join(blocks).encode("utf-8"))


def write_script_tsv(final: Path, rows: list[tuple[int, int, str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(["id", "start", "end", "speaker", "source_text", "text"])
    for n, (start, end, source, text) in enumerate(rows, start=1):
        writer.writerow([f"{n:04d}", seconds_str(start), seconds_str(end),
                         DEMO_SPEAKER, source, text])
    write_bytes(final, buf.getvalue().encode("utf-8"))


def check_translation_fits() -> None:
    """Each English line must be speakable before the next utterance starts."""
    starts = [u[0] for u in DEMO_UTTERANCES] + [DEMO_DURATION]
    for n, (start, _, english) in enumerate(DEMO_UTTERANCES, start=1):
        slot = starts[n] - start
        needed = len(english) / ENGLISH_CHARS_PER_SEC
        if needed > slot * MAX_SPEEDUP:
            fail(f"English line {n} needs {needed:.2f} s but its slot is "
                 f"{slot:.2f} s (max speed-up {MAX_SPEEDUP}x)")


# --------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------

def build_demo(root: Path, tmp: Path) -> list[Path]:
    check_translation_fits()
    rows = place_utterances([(s, es) for s, es, _ in DEMO_UTTERANCES],
                            DEMO_VOICE, DEMO_DURATION, tmp, "demo")
    track = tmp / "demo_track.wav"
    mix_track([(start, wav) for start, _, wav in rows], DEMO_DURATION,
              BED_EXPR, track)

    mp4 = root / "media" / "demo.mp4"
    srt = root / "media" / "demo.srt"
    tsv = root / "media" / "demo.script.tsv"
    encode_mp4(mp4, DEMO_DURATION, track)
    write_srt(srt, [(start, end, es) for (start, end, _), (_, es, _)
                    in zip(rows, DEMO_UTTERANCES)])
    write_script_tsv(tsv, [(start, end, es, en) for (start, end, _), (_, es, en)
                           in zip(rows, DEMO_UTTERANCES)])
    return [mp4, srt, tsv]


def build_english(root: Path, tmp: Path) -> list[Path]:
    rows = place_utterances(ENGLISH_UTTERANCES, ENGLISH_VOICE,
                            ENGLISH_DURATION, tmp, "english")
    track = tmp / "english_track.wav"
    mix_track([(start, wav) for start, _, wav in rows], ENGLISH_DURATION,
              NO_BED_EXPR, track)

    mp4 = root / "tests" / "data" / "english.mp4"
    expected = root / "tests" / "data" / "english.expected.json"
    encode_mp4(mp4, ENGLISH_DURATION, track)
    entries = [{"start": start / 1000, "end": end / 1000, "text": text}
               for (start, end, _), (_, text) in zip(rows, ENGLISH_UTTERANCES)]
    write_bytes(expected, (json.dumps(entries, indent=2, ensure_ascii=False)
                           + "\n").encode("utf-8"))
    return [mp4, expected]


def build_error_fixtures(root: Path) -> list[Path]:
    noaudio = root / "tests" / "data" / "noaudio.mp4"
    notavideo = root / "tests" / "data" / "notavideo.mp4"
    encode_mp4(noaudio, NOAUDIO_DURATION, None)
    write_bytes(notavideo, NOT_A_VIDEO_TEXT)
    return [noaudio, notavideo]


def main(argv: list[str] | None = None) -> int:
    default_root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-root", type=Path, default=default_root,
                        help=f"directory to write into (default: {default_root})")
    args = parser.parse_args(argv)
    root = args.out_root.resolve()

    check_tools()
    with tempfile.TemporaryDirectory(prefix="make_demo_media.") as tmp_name:
        tmp = Path(tmp_name)
        written = (build_demo(root, tmp) + build_english(root, tmp)
                   + build_error_fixtures(root))

    for path in written:
        print(f"wrote {path.relative_to(root)} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
