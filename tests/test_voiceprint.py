"""The speaker encoder (dubbing.voiceprint): Resemblyzer's weights run in numpy, on real recordings.

The labels' exact values may move in the last digits from one CPU to another, so these tests ask only
what holds with room to spare; the line builder is tested on labels recorded with the words
(tests/test_lines_real.py)."""

import io
import json
import os
import pickle
import shutil

import numpy as np
import pytest
from conftest import DATA
from dubbing import vad, voiceprint
from dubbing.audio import decode_mono
from dubbing.errors import DubbingError
from dubbing.lines import Word
from test_lines_real import turns

REAL = DATA / "realspeech"


@pytest.fixture(scope="module")
def encoder():
    return voiceprint.Encoder()


def test_the_weights_are_read_without_torch_and_embed_to_unit_vectors(encoder):
    weights = voiceprint.load_weights()
    assert weights["lstm.weight_ih_l0"].shape == (1024, 40) and weights["linear.weight"].shape == (256, 256)
    rng = np.random.default_rng(0)
    mels = rng.random((3, 160, 40), dtype=np.float32)
    out = encoder.embed(mels)
    assert out.shape == (3, 256)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # a window's embedding does not depend on its batch (but for BLAS's last digits)
    assert np.allclose(encoder.embed(mels[:1])[0], out[0], atol=1e-5)
    assert not np.allclose(out[0], out[1], atol=1e-3)


def test_a_weights_file_that_is_not_the_pinned_one_is_refused_by_name(tmp_path):
    bad = tmp_path / "pretrained.pt"
    shutil.copyfile(voiceprint.weights_path(), bad)
    with open(bad, "r+b") as handle:
        handle.seek(os.path.getsize(bad) // 2)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(DubbingError, match="pretrained.pt.*SHA-256"):
        voiceprint.load_weights(bad)


def test_the_weights_reader_makes_nothing_but_tensors():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        voiceprint._Unpickler(io.BytesIO(pickle.dumps(Evil(), protocol=2))).load()


def test_the_phone_calls_two_voices_are_told_apart_word_by_word(encoder):
    # Diane and Sheila, two women on one telephone line, no pause between some turns: per word, the
    # encoder's speaker against the person who speaks alone over it in the human RTTM.
    heard = json.loads((REAL / "words" / "pyannote_sample.avx.json").read_text(encoding="utf-8"))
    words = [Word(w["start"], w["end"], w["text"]) for s in heard["segments"] for w in s["words"]]
    samples = decode_mono(REAL / "pyannote_sample.flac", voiceprint.RATE)
    labels = voiceprint.word_speakers(samples, vad.speech(heard["vad"]), words, encoder)
    assert labels is not None and len(set(labels)) == 2
    pairs = []
    for word, label in zip(words, labels):
        alone = {who for a, b, who in turns() if a < word.end and b > word.start}
        if len(alone) == 1:
            pairs.append((label, alone.pop()))
    agree = max(sum(mapping.get(label) == who for label, who in pairs)
                for mapping in ({0: "speaker90", 1: "speaker91"}, {0: "speaker91", 1: "speaker90"}))
    assert agree >= 0.85 * len(pairs), (agree, len(pairs))  # measured 56 of 60 words


@pytest.mark.parametrize("recording", ["realspeech/jfk.flac", "english.mp4"])
def test_one_voice_is_one_speaker(encoder, recording):
    samples = decode_mono(DATA / recording, voiceprint.RATE)
    speech = vad.speech(vad.probabilities(samples))
    words = [Word(a + k * 0.3, min(b, a + k * 0.3 + 0.3), " w") for a, b in speech for k in range(int((b - a) / 0.3) + 1)
             if a + k * 0.3 < b]
    assert voiceprint.word_speakers(samples, speech, words, encoder) is None


def test_the_mel_bands_are_librosas():
    # librosa.filters.mel(sr=16000, n_fft=400, n_mels=40), Slaney's scale: linear to 1 kHz (200/3 Hz per
    # mel), logarithmic above (27 mels per factor 6.4); 42 edges evenly spaced in mels from 0 to 8 kHz,
    # filter k a triangle peaking at edge k+1, its area normalized (2 / its width in Hz).
    filters = voiceprint.mel_filters()
    assert filters.shape == (40, 201)
    top = 15 + np.log(8.0) / (np.log(6.4) / 27)  # 8 kHz in mels
    mels = np.arange(1, 41) * top / 41
    centres = np.where(mels < 15, mels * 200 / 3, 1000 * np.exp((mels - 15) * np.log(6.4) / 27))
    bins = np.linspace(0, 8000, 201)
    assert np.all(np.abs(bins[np.argmax(filters, axis=1)] - centres) <= 20)  # the bin nearest each centre
    assert centres[0] == pytest.approx(73.6, abs=0.1) and centres[-1] == pytest.approx(7415, abs=1)
    widths = np.diff(np.concatenate([[0.0], centres, [8000.0]]))
    heights = 2 / (widths[:-1] + widths[1:])
    peak_share = filters.max(axis=1) / heights  # below 1 where no bin falls on the centre
    assert np.all((peak_share > 0.45) & (peak_share <= 1.0 + 1e-6))
