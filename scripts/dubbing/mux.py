"""Muxing: the original video stream copied bit for bit, the dubbed audio, the original audio tracks, soft
subtitles."""

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


# Audio codecs an MP4 carries as they are; any other original track (PCM, Vorbis, ...) is encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}


def source_audio_tracks(video):
    """[(codec, language tag, channels)] of every audio stream of the source, in order."""
    import json

    cmd = ["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
           "stream=codec_name,channels:stream_tags=language", "-of", "json", str(video)]
    streams = json.loads(run_tool(cmd, video, "reading the audio tracks (ffprobe)")).get("streams", [])
    return [(s.get("codec_name", ""), (s.get("tags") or {}).get("language", "und"), int(s.get("channels") or 0))
            for s in streams]


def _channels_of(path):
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels", "-of",
           "csv=p=0", str(path)]
    return int(run_tool(cmd, path, "reading the dub's channels (ffprobe)").strip() or 0)


def mux(video, audio, subtitles, dest, language, bitrate):
    """Write ``dest`` (MP4): video copied; ``audio`` (the dub, copied if it is AAC already) as the first and
    default audio track, tagged with ``language`` and named "<language> (dub)"; then every audio track of
    the source as it was (copied when MP4 can carry it), named "... (original)", so a player can switch
    back to the original sound; ``subtitles`` as mov_text. A surround dub (a 5.1 source's) is followed by its
    stereo downmix, named "<language> (dub, stereo)"."""
    from . import languages

    # An .m4a is already the AAC to carry (the mix encodes it): copied, not encoded again.
    # aac_coder fast: 2.5x less CPU than the default twoloop (6.5 s vs 16.7 s per 10 minutes of stereo).
    codec = ["-c:a:0", "copy"] if str(audio).endswith(".m4a") else ["-c:a:0", "aac", "-aac_coder", "fast",
                                                                    "-b:a:0", bitrate]
    tag = language_tag(language)
    name = languages.name(language).split(" (")[0] if languages.code(language) else (language or "Dub")
    originals = source_audio_tracks(video)
    maps, options = ["-map", "0:v:0", "-map", "1:a:0"], []
    first = 1  # the index of the first original track
    if _channels_of(audio) > 2:
        # A surround dub (5.1) and, for players and devices that want two channels, its stereo downmix.
        maps += ["-map", "1:a:0"]
        options += ["-c:a:1", "aac", "-aac_coder", "fast", "-ac:a:1", "2", "-b:a:1", bitrate,
                    "-metadata:s:a:1", f"language={tag}", "-metadata:s:a:1", f"handler_name={name} (dub, stereo)",
                    "-metadata:s:a:1", f"title={name} (dub, stereo)", "-disposition:a:1", "0"]
        first = 2
    for number, (source_codec, source_tag, _channels) in enumerate(originals, 1):
        index = first + number - 1
        maps += ["-map", f"0:a:{number - 1}"]
        if source_codec in MP4_AUDIO:
            options += [f"-c:a:{index}", "copy"]
        else:
            options += [f"-c:a:{index}", "aac", f"-b:a:{index}", bitrate]
        label = "Original sound" + (f" {number}" if len(originals) > 1 else "") + \
            (f" ({source_tag})" if source_tag != "und" else "")
        options += [f"-metadata:s:a:{index}", f"language={source_tag}",
                    f"-metadata:s:a:{index}", f"handler_name={label}",
                    f"-metadata:s:a:{index}", f"title={label}", f"-disposition:a:{index}", "0"]
    with atomic_output(dest, ".mp4") as tmp:
        cmd = FFMPEG + [
            "-i", str(video), "-i", str(audio), "-i", str(subtitles),
            *maps, "-map", "2:s:0",
            "-c:v", "copy", *codec, *options, "-c:s", "mov_text",
            "-metadata:s:a:0", f"language={tag}", "-metadata:s:a:0", f"handler_name={name} (dub)",
            "-metadata:s:a:0", f"title={name} (dub)", "-disposition:a:0", "default",
            "-metadata:s:s:0", f"language={tag}",
            "-disposition:s:0", "0", "-movflags", "+faststart", "-f", "mp4", str(tmp),
        ]
        run_tool(cmd, video, "muxing")
