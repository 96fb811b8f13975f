"""Muxing: the original video stream copied bit for bit, the dubbed audio, soft subtitles."""

from .audio import FFMPEG, run_tool
from .files import atomic_output

# ISO 639-1 -> 639-2/B, for the stream language tags players show.
_LANG3 = {
    "en": "eng", "es": "spa", "fr": "fre", "de": "ger", "it": "ita", "pt": "por", "nl": "dut", "ru": "rus",
    "zh": "chi", "ja": "jpn", "ko": "kor", "ar": "ara", "hi": "hin", "pl": "pol", "tr": "tur", "sv": "swe",
    "uk": "ukr", "cs": "cze", "el": "gre", "he": "heb", "id": "ind", "vi": "vie", "th": "tha", "ro": "rum",
}


def language_tag(language):
    code = language.strip().lower().split("-")[0].split("_")[0]
    return _LANG3.get(code, code if len(code) == 3 else "und")


def mux(video, audio, subtitles, dest, language, bitrate):
    """Write ``dest`` (MP4): video copied, ``audio`` as AAC (copied if it is AAC already), ``subtitles`` as mov_text."""
    # An .m4a is already the AAC to carry (the mix encodes it): copied, not encoded again.
    # aac_coder fast: 2.5x less CPU than the default twoloop (6.5 s vs 16.7 s per 10 minutes of stereo).
    codec = ["-c:a", "copy"] if str(audio).endswith(".m4a") else ["-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate]
    tag = language_tag(language)
    with atomic_output(dest, ".mp4") as tmp:
        cmd = FFMPEG + [
            "-i", str(video), "-i", str(audio), "-i", str(subtitles),
            "-map", "0:v:0", "-map", "1:a:0", "-map", "2:s:0",
            "-c:v", "copy", *codec, "-c:s", "mov_text",
            "-metadata:s:a:0", f"language={tag}", "-metadata:s:s:0", f"language={tag}",
            "-disposition:s:0", "0", "-movflags", "+faststart", "-f", "mp4", str(tmp),
        ]
        run_tool(cmd, video, "muxing")
