"""Who speaks when, in a one-channel recording: speaker changes from voice embeddings (Resemblyzer's model).

No offline diarizer ships here, but a speaker encoder does: Resemblyzer (Apache-2.0) ships the weights
of its 3-layer LSTM (a GE2E speaker encoder, 40 mel bands of 16 kHz audio in, 256 numbers out) inside
its wheel. The wheel's code needs torch, which the registry only has with CUDA, so the package is
installed without its dependencies (requirements-nodeps.lock) and the network runs here in numpy:
the weights are read from ``pretrained.pt`` with a restricted unpickler (tensors only; the file's
SHA-256 is pinned), the mel bands are computed as librosa computes them for Resemblyzer.

What it is used for: the line builder never puts two speakers in one line. With punctuation a change
of speaker mostly falls on a sentence end; without it (tiny.en on some CPUs returns a phone call
without a single full stop) nothing else tells where one person stops and the next begins when they
leave no pause. Measured on the phone call (two women on a telephone line), one window's embedding
is nearer to another of the same speaker (0.77-0.86) than to the other speaker (0.64-0.75), so
windows are clustered and the sequence is smoothed, not judged one by one:

1. embeddings of 1.6 s windows every 0.2 s wherever the voice-activity detector hears speech
   (after a survey every 0.8 s: when that finds one voice, as in most lectures, it stops there);
2. the windows that are all speech are clustered (leader clustering in time order, then two
   k-means passes: linear in the number of windows); clusters nearer than ``SAME_SPEAKER`` are one
   speaker, clusters under ``MIN_SPEAKER_SECONDS`` of speech are not a speaker;
3. a Viterbi pass over the windows (similarity to each speaker, a price for each change) gives who
   speaks when; a word takes the speaker of the window nearest its middle.

Only changes are used (the labels are not speakers' names, and are not used to pick voices): the
measured agreement is good enough to cut lines, not to promise a voice per person. The encoder's
output, like Whisper's, may differ in the last digits from one CPU to another, so tests of what is
built on it read recorded labels (tools/record_words.py).
"""

import collections
import hashlib
import io
import pickle
import struct
from importlib import metadata

import numpy as np

from .errors import DubbingError

RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms: one mel frame
N_MELS = 40
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
# Resemblyzer normalizes quiet recordings up to this level before the mel bands (never down).
TARGET_DBFS = -30.0
WINDOW_FRAMES = 160  # 1.6 s: the length the encoder was trained on
STEP_FRAMES = 20  # 0.2 s
# A first look every 0.8 s: most recordings have one voice, and then the 0.2 s pass is not needed.
SURVEY_FRAMES = 80
# A window joins a speaker at or above this similarity (measured: same speaker 0.77-0.86, other 0.64-0.75).
JOIN = 0.74
# Two clusters nearer than this are one speaker (the same voice, louder or softer).
SAME_SPEAKER = 0.85
MIN_SPEAKER_SECONDS = 2.0
# A window counts for clustering when this share of it is speech.
CLEAN_SHARE = 0.8
# Viterbi: emissions are SHARPNESS * similarity; a change of speaker costs SWITCH_COST.
SHARPNESS = 40.0
SWITCH_COST = 4.0
BATCH = 256


def weights_path():
    try:
        dist = metadata.distribution("resemblyzer")
    except metadata.PackageNotFoundError:
        raise DubbingError("resemblyzer", "not installed: the speaker encoder's weights come from it "
                                          "(run make setup)") from None
    return dist.locate_file("resemblyzer/pretrained.pt")


class _Tensor(tuple):
    pass


class _StorageType:
    DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
              "DoubleStorage": np.float64}

    def __init__(self, name):
        self.dtype = np.dtype(self.DTYPES[name])


class _Storage:
    def __init__(self, dtype):
        self.dtype, self.data = dtype, None


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return _Tensor((storage, offset, tuple(size), tuple(stride)))


class _Unpickler(pickle.Unpickler):
    """Reads a legacy torch checkpoint's tensors, and nothing else: no other class can be made."""

    def __init__(self, handle):
        super().__init__(handle)
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return _rebuild_tensor
        if module == "torch" and name in _StorageType.DTYPES:
            return lambda *args, _name=name: _StorageType(_name)
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a weights file")

    def persistent_load(self, pid):
        _kind, storage_type, key = pid[:3]
        if not isinstance(storage_type, _StorageType):  # the class itself, not called
            storage_type = storage_type()
        return self.storages.setdefault(key, _Storage(storage_type.dtype))


def _array(tensor):
    storage, offset, size, stride = tensor
    item = storage.dtype.itemsize
    return np.lib.stride_tricks.as_strided(storage.data[offset:], size, tuple(s * item for s in stride)).copy()


def load_weights(path=None):
    """{name: array} of the encoder's model state (the legacy torch format: pickles, then raw storages)."""
    path = path or weights_path()
    with open(path, "rb") as handle:
        raw = handle.read()
    if hashlib.sha256(raw).hexdigest() != WEIGHTS_SHA256:
        raise DubbingError(path, "is not the Resemblyzer 0.1.4 model (SHA-256 differs): reinstall it (make setup)")
    handle = io.BytesIO(raw)
    for _ in range(3):  # magic number, protocol version, system info
        pickle.load(handle)  # plain ints and a dict of ints and strings  # noqa: S301
    unpickler = _Unpickler(handle)
    checkpoint = unpickler.load()
    for key in pickle.load(handle):  # noqa: S301 (a list of strings)
        storage = unpickler.storages[key]
        count = struct.unpack("<q", handle.read(8))[0]
        storage.data = np.frombuffer(handle.read(count * storage.dtype.itemsize), dtype=storage.dtype)
    return {name: _array(value) for name, value in checkpoint["model_state"].items() if isinstance(value, _Tensor)}


def _hz_to_mel(hz):  # Slaney's scale, as librosa's default
    hz = np.asarray(hz, dtype=float)
    linear = hz * 3.0 / 200.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), linear)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=float)
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), mel * 200.0 / 3.0)


def mel_filters():
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney scale, Slaney area normalization."""
    bins = np.linspace(0, RATE / 2, 1 + N_FFT // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    ramps = edges[:, None] - bins[None, :]
    widths = np.diff(edges)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return (weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def mel_frames(samples):
    """(frames, 40) mel power per 10 ms of 16 kHz float audio (not log: what the encoder was trained on)."""
    padded = np.pad(samples.astype(np.float32), N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    filters = mel_filters().T
    out = np.empty((count, N_MELS), np.float32)
    for first in range(0, count, 4096):  # bounded memory on an hour of audio
        rows = min(4096, count - first)
        frames = np.lib.stride_tricks.as_strided(padded[first * HOP:], (rows, N_FFT),
                                                 (padded.strides[0] * HOP, padded.strides[0]))
        out[first:first + rows] = (np.abs(np.fft.rfft(frames * window, axis=1)) ** 2).astype(np.float32) @ filters
    return out


class Encoder:
    def __init__(self, weights=None):
        state = weights or load_weights()
        self.layers = [(state[f"lstm.weight_ih_l{i}"].T.copy(), state[f"lstm.weight_hh_l{i}"].T.copy(),
                        state[f"lstm.bias_ih_l{i}"] + state[f"lstm.bias_hh_l{i}"]) for i in range(3)]
        self.linear = state["linear.weight"].T.copy(), state["linear.bias"]

    def embed(self, mels):
        """(batch, 256) unit vectors for (batch, frames, 40) mel windows: the LSTM's last state, linear, ReLU."""
        x = np.asarray(mels, np.float32)
        batch, frames, _ = x.shape
        for w_in, w_hidden, bias in self.layers:
            size = w_hidden.shape[0]
            gates_in = x @ w_in + bias
            h = np.zeros((batch, size), np.float32)
            c = np.zeros((batch, size), np.float32)
            out = np.empty((batch, frames, size), np.float32)
            for t in range(frames):  # torch's gate order: input, forget, cell, output
                gates = gates_in[:, t] + h @ w_hidden
                i, f = _sigmoid(gates[:, :size]), _sigmoid(gates[:, size:2 * size])
                c = f * c + i * np.tanh(gates[:, 2 * size:3 * size])
                h = _sigmoid(gates[:, 3 * size:]) * np.tanh(c)
                out[:, t] = h
            x = out
        raw = np.maximum(h @ self.linear[0] + self.linear[1], 0.0)
        return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9)


def _sigmoid(x):
    return 0.5 + 0.5 * np.tanh(0.5 * x)  # 1 / (1 + e^-x), without overflow


def _speech_shares(spans, centres, half):
    """The share of speech (``spans``, seconds) in each window [centre - half, centre + half]: a running
    count of 10 ms speech frames, so linear in the recording."""
    if not len(centres):
        return np.zeros(0)
    size = int(np.ceil((max(centres) + half) * 100)) + 2
    frames = np.zeros(size, np.int32)
    for a, b in spans:
        frames[max(0, int(round(a * 100))):max(0, min(size, int(round(b * 100))))] = 1
    counts = np.concatenate([[0], np.cumsum(frames)])
    at = np.asarray(centres)
    first = np.clip(np.round((at - half) * 100).astype(int), 0, size)
    last = np.clip(np.round((at + half) * 100).astype(int), 0, size)
    return (counts[last] - counts[first]) / max(1, int(round(2 * half * 100)))


def windows(duration, speech, step_frames=STEP_FRAMES):
    """Centres (s) of the analysis windows: every 0.2 s where the detector heard speech."""
    half = WINDOW_FRAMES / 200.0
    centres, step = [], step_frames / 100.0
    for a, b in speech:
        t = max(half, np.ceil(a / step) * step)
        while t <= min(b, duration - half) + 1e-9:
            centres.append(round(t, 2))
            t += step
    return sorted(set(centres))


def _mel_of(samples):
    """The mel frames of 16 kHz samples (int16 or float), a quiet recording first brought up to -30 dBFS."""
    audio = np.asarray(samples)
    audio = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
    rms = float(np.sqrt(np.mean(audio ** 2))) if audio.size else 0.0
    if 0 < rms < 10 ** (TARGET_DBFS / 20):
        audio = audio * (10 ** (TARGET_DBFS / 20) / rms)
    return mel_frames(audio)


def embed_windows(mel, centres, encoder):
    """One embedding per window of WINDOW_FRAMES mel frames centred on each of ``centres`` (s)."""
    out = np.empty((len(centres), 256), np.float32)
    for first in range(0, len(centres), BATCH):
        batch = []
        for centre in centres[first:first + BATCH]:
            begin = int(round(centre * 100)) - WINDOW_FRAMES // 2
            piece = mel[max(0, begin):begin + WINDOW_FRAMES]
            batch.append(np.pad(piece, ((0, WINDOW_FRAMES - len(piece)), (0, 0))))
        out[first:first + len(batch)] = encoder.embed(np.stack(batch))
    return out


def _unit(rows):
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-9)


def speakers_of(embeddings, clean, step_frames=STEP_FRAMES):
    """One unit vector per speaker heard among the clean windows' embeddings (none, one, or several)."""
    points = embeddings[clean]
    centroids = []
    for point in points:  # leader clustering, in time order
        if centroids:
            sims = np.array(centroids) @ point
            if sims.max() >= JOIN:
                continue
        centroids.append(point)
    centroids = np.array(centroids) if centroids else np.zeros((0, embeddings.shape[1]), np.float32)
    for _ in range(2):  # k-means passes
        if not len(centroids):
            break
        owner = np.argmax(points @ centroids.T, axis=1)
        centroids = _unit(np.array([points[owner == k].mean(0) if np.any(owner == k) else centroids[k]
                                    for k in range(len(centroids))]))
    owner = np.argmax(points @ centroids.T, axis=1) if len(centroids) else np.zeros(0, int)
    sizes = np.bincount(owner, minlength=len(centroids)) * step_frames / 100.0
    # the same voice twice: join the smaller into the larger, largest first
    order = list(np.argsort(-sizes, kind="stable"))
    kept = []
    for k in order:
        twin = next((j for j in kept if float(centroids[j] @ centroids[k]) >= SAME_SPEAKER), None)
        if twin is None:
            kept.append(k)
        else:
            owner[owner == k] = twin
    groups = [k for k in kept if np.sum(owner == k) * step_frames / 100.0 >= MIN_SPEAKER_SECONDS]
    final = _unit(np.array([points[owner == k].mean(0) for k in groups])) if groups else np.zeros((0, points.shape[1]))
    return final


def viterbi(similarity):
    """The most likely speaker per window: SHARPNESS * similarity per window, SWITCH_COST per change."""
    count, states = similarity.shape
    score = SHARPNESS * similarity[0].astype(float)
    back = np.zeros((count, states), int)
    for t in range(1, count):
        stay = score
        best = int(np.argmax(score))
        move = score[best] - SWITCH_COST
        back[t] = np.where(stay >= move, np.arange(states), best)
        score = np.maximum(stay, move) + SHARPNESS * similarity[t]
    path = np.zeros(count, int)
    path[-1] = int(np.argmax(score))
    for t in range(count - 1, 0, -1):
        path[t - 1] = back[t][path[t]]
    return path


def word_speakers(samples, speech, words, encoder=None):
    """Per word, a speaker number (0, 1, ...), or None when the recording has one speaker (or too little
    speech to tell). ``samples``: 16 kHz mono; ``speech``: [(start, end)] from the voice-activity
    detector; ``words``: objects with ``start`` and ``end``."""
    if len(words) < 2 or not speech:
        return None
    duration = len(samples) / RATE
    encoder = encoder or Encoder()
    mel = _mel_of(samples)
    half = WINDOW_FRAMES / 200.0
    for step in (SURVEY_FRAMES, STEP_FRAMES):  # a quick survey first: one voice needs no more
        centres = windows(duration, speech, step)
        if len(centres) * step / 100.0 < 2 * MIN_SPEAKER_SECONDS:
            return None
        embeddings = embed_windows(mel, centres, encoder)
        clean = _speech_shares(speech, centres, half) >= CLEAN_SHARE
        centroids = speakers_of(embeddings, clean, step) if clean.any() else []
        if len(centroids) < 2:
            return None
    path = viterbi(embeddings @ centroids.T)
    at = np.array(centres)
    middles = np.array([(w.start + w.end) / 2 for w in words])
    right = np.clip(np.searchsorted(at, middles), 1, len(at) - 1)  # the window centre nearest each word's middle
    nearest = np.where(np.abs(at[right - 1] - middles) <= np.abs(at[right] - middles), right - 1, right)
    labels = [int(path[k]) for k in nearest]
    return labels if len(set(labels)) > 1 else None
