"""mix_mode separate: the original's voice taken out, its music kept, on real speech over real music."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, REPO, frame_rms, make_workdir, run_snakemake

sys.path.insert(0, str(REPO / "tools"))
from bench_separation import SPEECH, db, local_duck, material, separated  # noqa: E402  (the benchmark's own)
from dubbing import vad  # noqa: E402

MUSIC = DATA / "music" / "drascula_track6_excerpt.ogg"


def test_separation_leaves_the_music_and_takes_the_voice_20_db_down():
    """JFK over the Drascula score at equal loudness: the true voice and music through the workflow's mask, its
    speech-band duck where the model is unsure and the mix's local duck, both where the workflow hears speech."""
    voice, music, talk = material(SPEECH["JFK speech"])
    _background, mask_only, _music, _probs = separated(voice, music, unsure=False, words=False)
    background, voice_left, music_left, probs = separated(voice, music, words=False)  # the detector alone
    duck = local_duck(probs, voice.size)  # separate_duck_db where the VAD hears the original
    assert db((duck * voice_left)[talk], voice[talk]) <= -20.0
    assert db(voice_left[talk], voice[talk]) <= db(mask_only[talk], voice[talk]) - 0.5  # the unsure duck helps
    assert db((duck * music_left)[talk], music[talk]) >= -8.0  # the music stays while the voice speaks
    assert abs(db((duck * music_left)[~talk], music[~talk])) <= 3.0  # and where nobody speaks
    assert np.allclose(background, voice_left + music_left, atol=1e-4)  # the mask is linear: nothing else


@pytest.mark.parametrize("variant", ["avx", "avx512"])
def test_the_recognizers_words_take_a_telephone_voice_20_db_down(variant):
    """The phone call over the same music: under music as loud as the voice the detector hears 72 % of the
    voice's frames, and DeepFilterNet3 hears a telephone band poorly, so the detector alone leaves the voice
    15 dB down. The ends of the words tiny.en timed (recorded on two kinds of CPU, tests/data/realspeech/words)
    mark the rest (rule original_talking)."""
    heard = json.loads((DATA / "realspeech" / "words" / f"pyannote_sample.{variant}.json").read_text(encoding="utf-8"))
    words = [(w["start"], w["end"]) for s in heard["segments"] for w in s["words"]]
    voice, music, talk = material(SPEECH["phone call"])
    results = {}
    for label, given in (("detector", False), ("words", words)):
        _background, voice_left, music_left, probs = separated(voice, music, words=given)
        duck = local_duck(probs, voice.size)
        results[label] = (db((duck * voice_left)[talk], voice[talk]), db((duck * music_left)[talk], music[talk]),
                          db((duck * music_left)[~talk], music[~talk]))
    assert results["detector"][0] > -20.0  # measured -17.5 dB
    left, music_speaking, music_pauses = results["words"]
    assert left <= -20.0, results  # measured -21.6 (-21.2 with the words heard in the mix itself)
    assert music_speaking >= -8.0 and abs(music_pauses) <= 3.0, results


def test_a_words_end_marks_speech_not_the_pause_before_it():
    probs = np.zeros(100, np.float32)
    marked = vad.with_words(probs, [(0.0, 0.32), (1.0, 2.6)])  # Whisper put a pause into the second word
    frames = np.flatnonzero(marked == 1.0) * vad.FRAME_SECONDS
    assert frames.min() == 0.0 and not np.any((frames > 0.4) & (frames < 2.0 - 0.04))
    assert 2.56 <= frames.max() < 2.6 and np.array_equal(probs, np.zeros(100))  # the input untouched


@pytest.mark.e2e
def test_separate_mode_dubs_over_the_music_without_the_voice(tmp_path):
    workdir = make_workdir(tmp_path / "wf")
    voice, music, talk = material(SPEECH["JFK speech"])
    track = np.stack([voice + music, voice + music], axis=1)
    wav = tmp_path / "track.wav"
    from dubbing import audio

    audio.write_wav(wav, (track * 32767).astype(np.int16).reshape(-1), 48000, channels=2)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=160x120:r=10", "-i", str(wav),
                    "-shortest", "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    "-b:a", "192k", str(workdir / "media" / "clip.mp4")], check=True)
    (workdir / "media" / "clip.script.tsv").write_text(
        "id\tstart\tend\ttext\n0001\t0.40\t2.40\tAnd so, my fellow Americans.\n", encoding="utf-8")
    run_snakemake(workdir, "results/clip/dubbed.mp4", "--config", "mix_mode=separate")
    results = workdir / "results" / "clip"
    scores = json.loads((results / "mix.json").read_text())
    assert scores["mix_mode"] == "separate" and scores["voice_left_db"] is None  # not measurable without the truth
    assert abs(scores["background_kept_db"]) <= 3.0  # the music where nobody speaks is kept
    page = (results / "report" / "summary.html").read_text(encoding="utf-8")
    assert "The original under the dub (separate)" in page and "background kept, where nobody speaks" in page
    # In the background (what the dub is laid over), the music's level where nobody speaks is the source's,
    # and where the voice speaks the track lost the voice: about the music's own level, not the source's.
    bed = frame_rms(_decode(results / "audio" / "background.wav"), 16000, 0.02)
    source = frame_rms(_decode(results / "audio" / "source.wav"), 16000, 0.02)
    frames = talk[::960][: min(bed.size, source.size)]
    n = frames.size
    quiet, speaking = ~frames, frames
    assert abs(20 * np.log10(np.sqrt(np.mean(bed[:n][quiet] ** 2)) / np.sqrt(np.mean(source[:n][quiet] ** 2)))) <= 1.5
    assert 20 * np.log10(np.sqrt(np.mean(bed[:n][speaking] ** 2)) / np.sqrt(np.mean(source[:n][speaking] ** 2))) <= -2.0
    # Separated once: made again (the files deleted), it comes from the cache by the audio's content.
    for name in ("background.wav", "voice.wav"):
        (results / "audio" / name).unlink()
    run_snakemake(workdir, "results/clip/audio/background.wav", "--config", "mix_mode=separate")
    assert "from the cache" in (workdir / "logs" / "clip" / "separate.log").read_text()
    # The same video ducked: only the mix runs again, and its scores say how much voice the duck leaves.
    done = run_snakemake(workdir, "results/clip/dubbed.mp4", "--config", "mix_mode=duck")
    assert "rule separate" not in done.stdout
    ducked = json.loads((results / "mix.json").read_text())
    assert ducked["mix_mode"] == "duck" and -18.5 < ducked["voice_left_db"] < -0.5


def _decode(path):
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "16000", "-f",
                          "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4")


def test_streamed_separation_with_its_local_duck_equals_the_whole_file_computation(tmp_path):
    """Blocks of 9.6 s, each masked with a window of context and the VAD's frames on one absolute grid, give
    the background a whole-file computation gives (to the 16-bit sample)."""
    from dubbing import audio, separate, vad

    voice, music, _talk = material(SPEECH["JFK speech"])
    track = np.tile(voice + music, 2)[: 22 * 48000]  # three blocks
    wav = tmp_path / "source.wav"
    audio.write_wav(wav, (track * 32767).astype(np.int16), 48000)
    probs = vad.file_probabilities(wav)
    assert probs.size and (probs >= vad.THRESHOLD).mean() > 0.2  # the duck has somewhere to act
    separate.separate(wav, tmp_path / "bg.wav", tmp_path / "voice.wav", speech=probs)
    streamed = audio.decode_mono(tmp_path / "bg.wav", 48000).astype(np.float32) / 32768

    mix = np.frombuffer(wav.read_bytes()[44:], "<i2").astype(np.float32) / 32768
    enhancer = separate.Enhancer()
    padded = np.pad(mix, (0, (-mix.size - separate.DELAY) % separate.FRAME + separate.DELAY))
    estimate = enhancer.process(padded)[separate.DELAY:separate.DELAY + mix.size]
    enhancer.close()
    pad = separate.WINDOW
    parts = [np.pad(x, (pad, pad + (-x.size) % separate.HOP)) for x in (mix, estimate)]
    talking = separate.frames_talking(probs, -pad, (parts[0].size - separate.WINDOW) // separate.HOP + 1)
    whole = separate.background_of(*parts, talking=talking)[pad:pad + mix.size]
    assert streamed.size == whole.size
    # To the 16-bit sample, but the last window: past the end the stream has the model's own tail, the
    # reference zeros.
    assert np.max(np.abs(streamed - whole)[: -separate.WINDOW]) <= 2 / 32768
