"""The rate a paid voice's first request asks for (dubbing.rates): from the text, the slot and what the voice was heard to take."""

from dubbing import rates
from dubbing.backends import Settings
from dubbing.fitting import slots_for
from dubbing.script import Segment

OPENAI = Settings.resolve("tts", backend="openai")


def segments(*rows):
    return [Segment(id=f"{i:04d}", start=start, end=end, text=text) for i, (start, end, text) in enumerate(rows, 1)]


def test_a_line_too_long_for_its_slot_is_asked_faster_and_one_that_fits_is_not():
    lines = segments((1.0, 3.0, "Water covers almost three quarters of our whole planet, they say."),  # ~4.3 s in 3.9
                     (5.0, 9.0, "Most of it is salt water."),
                     (9.5, 10.5, "Only a tiny part of it is fresh water that people can drink."),  # far too long
                     (11.0, 12.0, "Rain."))
    slots = slots_for(lines, 30.0, 0.1)
    asked = rates.first_rates(lines, slots, OPENAI, 1.25)
    assert asked[1] == 1.0 and asked[3] == 1.0
    assert 1.0 < asked[0] <= 1.25 and asked[2] == 1.25
    # on the voice's grid of 0.05 steps, so a small edit of timing keeps the same request (and cache entry)
    assert all(round(rate / 0.05, 6) == round(rate / 0.05) for rate in asked)


def test_the_same_script_always_asks_the_same_rates_and_piper_is_measured_instead():
    lines = segments((1.0, 2.0, "A sentence that is much too long for one second."), (3.0, 4.0, "Short."))
    slots = slots_for(lines, 10.0, 0.1)
    assert rates.first_rates(lines, slots, OPENAI, 1.25) == rates.first_rates(lines, slots, OPENAI, 1.25)
    assert rates.first_rates(lines, slots, Settings.resolve("tts", backend="piper"), 1.25) == [1.0, 1.0]
    assert rates.first_rates(lines, slots, OPENAI, 1.0) == [1.0, 1.0]  # max_speedup 1: nothing faster
    elevenlabs = rates.first_rates(lines, slots, Settings.resolve("tts", backend="elevenlabs"), 1.25)
    assert max(elevenlabs) <= 1.2  # what the ElevenLabs voice takes


def test_the_prediction_is_near_what_a_cloud_voice_takes():
    # The local test server's voices (like the real ones): 0.3 s + 0.06 s per character at speed 1.0.
    for text in ("Hello.", "Water covers almost three quarters of our planet.", "x" * 300):
        predicted = rates.natural_seconds(text, "openai")
        assert abs(predicted - (0.3 + 0.06 * len(text))) / (0.3 + 0.06 * len(text)) < 0.1


def test_a_voice_is_learned_from_what_it_said_once_it_has_said_enough(tmp_path):
    heard = rates.Heard(tmp_path)
    nova = Settings.resolve("tts", backend="openai", voice="nova")
    for i in range(rates.HEARD_MIN - 1):
        heard.record(nova, "x" * (20 + i), (0.25 + 0.062 * (20 + i)) * 1.3)
    assert heard.factor(nova) == 1.0  # too few lines: the prior
    heard.record(nova, "y" * 40, (0.25 + 0.062 * 40) * 1.32)
    assert heard.factor(nova) == 1.3  # the median, on a 0.05 grid
    assert heard.factor(Settings.resolve("tts", backend="openai", voice="onyx")) == 1.0  # another voice: its own
    # A line voiced at speed 1.25 took 1/1.25 of its natural time: counted at speed 1.0.
    fast = Settings.resolve("tts", backend="openai", voice="onyx", speed=1.25)
    for _ in range(rates.HEARD_MIN):
        heard.record(fast, "z" * 50, (0.25 + 0.062 * 50) * 0.8 / 1.25)
    assert heard.factor(Settings.resolve("tts", backend="openai", voice="onyx")) == 0.8
    heard.path(nova).write_text(heard.path(nova).read_text() + "12\t", encoding="ascii")  # a row cut by a crash
    assert heard.factor(nova) == 1.3
    heard.record(Settings.resolve("tts", backend="piper"), "free", 1.0)  # free voices are measured, not logged
    assert len(list(heard.root.iterdir())) == 2


def test_a_line_keeps_its_rate_or_a_voicing_the_cache_holds_rather_than_pay_again():
    def key_at(rate):
        return f"k{rate}"

    held = {"k1.0", "k1.15"}.__contains__
    assert rates.settle(1.2, key_at, previous=("k1.1", 1.1), held=held, max_rate=1.25) == 1.1  # unchanged line
    assert rates.settle(1.2, key_at, previous=("k1.1", 1.3), held=held, max_rate=1.25) == 1.15  # past the cap now
    assert rates.settle(1.2, key_at, previous=("other", 1.1), held=held, max_rate=1.25) == 1.15  # text changed
    assert rates.settle(1.25, key_at, held=held, max_rate=1.25) == 1.15  # 8 % slow: the fit keeps it
    assert rates.settle(1.05, key_at, held=held, max_rate=1.25) == 1.0
    assert rates.settle(1.25, key_at, held={"k1.0"}.__contains__, max_rate=1.25) == 1.25  # too slow: ask anew
    assert rates.settle(1.2, key_at, held={"k1.2", "k1.15"}.__contains__, max_rate=1.25) == 1.2
