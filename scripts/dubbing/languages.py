"""Languages: Whisper's codes and names, and the letters each is written in.

Config takes a language as a code or an English name (``de``, ``German``, ``pt-BR``); recognizers
report codes (faster-whisper) or names (OpenAI's verbose_json: ``"french"``). Everything is compared
as the primary code, so ``en_US`` (a Piper voice), ``en`` and ``English`` are one language.
"""

import re
import unicodedata

from .errors import DubbingError

# Whisper's languages (the 99 it can recognize and translate from), code -> English name.
NAMES = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
    "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala",
    "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}
_CODES = {name: code for code, name in NAMES.items()} | {"burmese": "my", "castilian": "es", "flemish": "nl",
                                                         "haitian": "ht", "moldavian": "ro", "pushto": "ps",
                                                         "sinhalese": "si", "valencian": "ca", "mandarin": "zh"}

# ISO 639-1 -> 639-2/B, the tags media containers carry (MP4, Matroska); 639-2/T spellings read too.
TAGS = {
    "en": "eng", "es": "spa", "fr": "fre", "de": "ger", "it": "ita", "pt": "por", "nl": "dut", "ru": "rus",
    "zh": "chi", "ja": "jpn", "ko": "kor", "ar": "ara", "hi": "hin", "pl": "pol", "tr": "tur", "sv": "swe",
    "uk": "ukr", "cs": "cze", "el": "gre", "he": "heb", "id": "ind", "vi": "vie", "th": "tha", "ro": "rum",
    "da": "dan", "fi": "fin", "no": "nor", "hu": "hun", "ca": "cat", "bg": "bul", "hr": "hrv", "sk": "slo",
}
_FROM_TAGS = {tag: code for code, tag in TAGS.items()} | {"deu": "de", "fra": "fr", "zho": "zh", "nld": "nl",
                                                          "ces": "cs", "ell": "el", "ron": "ro", "slk": "sk"}

# Track names in the language itself: a viewer picks the language they read.
NATIVE = {
    "en": "English", "es": "Español", "fr": "Français", "de": "Deutsch", "it": "Italiano", "pt": "Português",
    "nl": "Nederlands", "ru": "Русский", "zh": "中文", "ja": "日本語", "ko": "한국어", "ar": "العربية",
    "hi": "हिन्दी", "pl": "Polski", "tr": "Türkçe", "sv": "Svenska", "uk": "Українська", "cs": "Čeština",
    "el": "Ελληνικά", "he": "עברית", "id": "Bahasa Indonesia", "vi": "Tiếng Việt", "th": "ไทย", "ro": "Română",
    "da": "Dansk", "fi": "Suomi", "no": "Norsk", "hu": "Magyar", "ca": "Català", "bg": "Български",
    "hr": "Hrvatski", "sk": "Slovenčina",
}


# Writing systems (the first word of a letter's Unicode name) a language is written in, where not Latin.
# Latin letters are accepted in every language (names, brands, acronyms).
_SCRIPTS = {
    ("zh", "yue"): ("CJK",), ("ja",): ("CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA"), ("ko",): ("HANGUL", "CJK"),
    ("ru", "uk", "be", "bg", "mk", "sr", "kk", "mn", "tg", "tt", "ba"): ("CYRILLIC",), ("el",): ("GREEK",),
    ("ar", "fa", "ur", "ps", "sd"): ("ARABIC",), ("he", "yi"): ("HEBREW",), ("hi", "mr", "ne", "sa"): ("DEVANAGARI",),
    ("bn", "as"): ("BENGALI",), ("ta",): ("TAMIL",), ("te",): ("TELUGU",), ("kn",): ("KANNADA",),
    ("ml",): ("MALAYALAM",), ("gu",): ("GUJARATI",), ("pa",): ("GURMUKHI",), ("si",): ("SINHALA",),
    ("th",): ("THAI",), ("lo",): ("LAO",), ("km",): ("KHMER",), ("my",): ("MYANMAR",), ("bo",): ("TIBETAN",),
    ("ka",): ("GEORGIAN",), ("hy",): ("ARMENIAN",), ("am",): ("ETHIOPIC",),
}
SCRIPTS = {code: scripts for codes, scripts in _SCRIPTS.items() for code in codes}


def code(language):
    """The primary code of a language given as a code, a tag (``en_US``, ``pt-BR``, a container's ``spa``) or
    an English name; "" when empty or unknown (the caller decides what unknown means: never guessed here)."""
    value = (language or "").strip().lower().replace("_", "-")
    if value in _CODES:
        return _CODES[value]
    primary = value.split("-")[0]
    return primary if primary in NAMES else _FROM_TAGS.get(primary, "")


def name(language):
    """'French (fr)' for messages; the text as given when it is not a known language."""
    primary = code(language)
    return f"{NAMES[primary].title()} ({primary})" if primary else repr(language)


def same(first, second):
    """Whether two language spellings name one language (both must be known)."""
    return bool(code(first)) and code(first) == code(second)


def letter_script(char):
    """The writing system of one letter: the first word of its Unicode name (LATIN, CYRILLIC, CJK, ...)."""
    return unicodedata.name(char, "UNKNOWN").split()[0]


def foreign_letters(text, language):
    """The letters of ``text`` not written in ``language``'s script(s) (nor Latin), in order, once each."""
    allowed = ("LATIN",) + SCRIPTS.get(code(language), ())
    found = []
    for char in text:
        if unicodedata.category(char).startswith("L") and letter_script(char) not in allowed and char not in found:
            found.append(char)
    return found


def targets(value):
    """The dub languages of a run, {path token: language as configured}, in order, from one language
    (``es``), a list (``[es, de]``) or ``"es,de"``. The token names the language in paths: the language
    as given when it is a plain word (es, en-US), else its code."""
    items = value if isinstance(value, list) else str(value).split(",")
    found = {}
    for language in (str(item).strip() for item in items):
        if not language:
            continue
        token = language if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", language) else \
            code(language) or re.sub(r"[^a-z0-9]+", "-", language.lower()).strip("-")
        if not token:
            raise DubbingError("config", f"target_language {language!r} is not a language")
        twin = next((other for other in found.values() if (code(other) or other.lower()) ==
                     (code(language) or language.lower())), None)
        if twin:
            raise DubbingError("config", f"target_language names {name(language)} twice ({twin} and {language})")
        found[token] = language
    if not found:
        raise DubbingError("config", "target_language is empty; give a language (es) or a list ([es, de, fr])")
    return found


DUB_FOLDER = "/dub-"  # results/<video>/dub-<lang>/: one language's files, when a run has several


def dub_folder(token, several):
    """Where a language's dub lives below results/<video>: "" (there) with one language, "/dub-<lang>" with several."""
    return f"{DUB_FOLDER}{token}" if several else ""


def dub_pattern(tokens, several):
    """The regular expression of the `dub` wildcard: one of the languages' folders, or only "" with one."""
    return f"{re.escape(DUB_FOLDER)}(?:{'|'.join(re.escape(token) for token in tokens)})" if several else "(?:)"


def dub_token(dub):
    """The language token of a `dub` wildcard ("" for the one language's)."""
    return dub[len(DUB_FOLDER):] if dub else ""
