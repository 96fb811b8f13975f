"""Translation with OpenAI chat completions: batches of lines, neighbours as context, ids kept.

Each request carries up to ``batch_size`` lines with the time each may take (so the model writes
something speakable in its slot) and a few lines before and after as context. The answer is
structured JSON; it must return every id with non-empty text, or the batch is asked again.
"""

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor

from .. import retry
from ..script import clean_text, segments_from_cues
from . import openai_client

CHARS_PER_SECOND = 15  # comfortable speaking rate for the length hint
CONTEXT_LINES = 3
PARALLEL_BATCHES = 4

SYSTEM_PROMPT = (
    "You translate the lines of a video's transcript for dubbing into the target language. "
    "Each line has an id, its source text, and the seconds it may take when spoken. Write a natural, "
    "faithful translation of each line that can be spoken in the time available (at most max_chars "
    "characters; shorten wording rather than drop meaning). Use context_before/context_after only to "
    "understand the lines; do not translate them. Return every id exactly once, in order, with non-empty text."
)
SCHEMA = {
    "name": "dub_lines",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "segments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
                    "required": ["id", "text"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["segments"],
        "additionalProperties": False,
    },
}


SHORTEN_PROMPT = (
    "You shorten lines of a dubbed video's translation that take too long to speak in their time. Each line has "
    "an id, its source text, its current translation (text), the seconds it may take and max_chars. Rewrite each "
    "translation in the same language so that it has at most max_chars characters and keeps the meaning of the "
    "source: drop filler and repetition, use shorter words, never add anything. Return every id exactly once, in "
    "order, with non-empty text."
)


def batch_request(lines, index, size, target_language):
    """The user message for lines[index:index+size]: the batch, its slot lengths, its neighbours."""
    batch = lines[index : index + size]
    return {
        "target_language": target_language,
        "segments": [
            {"id": seg.id, "source_text": seg.source_text, "seconds": round(seconds, 2),
             "max_chars": max(8, int(seconds * CHARS_PER_SECOND))}
            for seg, seconds in batch
        ],
        "context_before": [seg.source_text for seg, _ in lines[max(0, index - CONTEXT_LINES) : index]],
        "context_after": [seg.source_text for seg, _ in lines[index + size : index + size + CONTEXT_LINES]],
    }


def parse_answer(content, expected_ids):
    """{id: text} from the model's answer, or TransientError saying what is wrong with it."""
    try:
        answer = json.loads(content or "")
        items = answer["segments"]
        texts = {str(item["id"]): clean_text(item["text"]) for item in items}
    except (ValueError, KeyError, TypeError) as err:
        raise retry.TransientError(f"translation answer is not the expected JSON ({type(err).__name__})") from None
    missing = [seg_id for seg_id in expected_ids if not texts.get(seg_id)]
    if missing:
        raise retry.TransientError(f"translation answer lacks text for id(s) {', '.join(missing)}")
    return texts


def _answers(requests, prompt, settings, what):
    """{id: text} over all ``requests`` (JSON documents with a ``segments`` list), sent in parallel, each
    re-asked (retry loop) until its answer has every id with text."""
    client = openai_client.client(settings)

    def ask(request):
        ids = [item["id"] for item in request["segments"]]

        def attempt():
            reply = client.chat.completions.create(
                model=settings.model,
                messages=[{"role": "system", "content": prompt},
                          {"role": "user", "content": json.dumps(request, ensure_ascii=False)}],
                response_format={"type": "json_schema", "json_schema": SCHEMA},
            )
            return parse_answer(reply.choices[0].message.content, ids)

        return retry.call(attempt, provider=openai_client.PROVIDER, where=f"{what} of segments {ids[0]}-{ids[-1]}",
                          max_retries=settings.max_retries)

    texts = {}
    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL_BATCHES, settings.max_concurrent))) as pool:
        for answer in pool.map(ask, requests):
            texts.update(answer)
    return texts


def translate(cues, settings, audio_path=None):
    segments = segments_from_cues(cues)
    lines = [(seg, (segments[i + 1].start if i + 1 < len(segments) else seg.end) - seg.start)
             for i, seg in enumerate(segments)]
    requests = [batch_request(lines, index, settings.batch_size, settings.target_language)
                for index in range(0, len(lines), settings.batch_size)]
    texts = _answers(requests, SYSTEM_PROMPT, settings, "translation")
    return [dataclasses.replace(seg, text=texts[seg.id]) for seg in segments]


def shorten(lines, settings):
    """{id: shorter text} for lines (dicts: id, source_text, text, seconds, max_chars) that do not fit their time."""
    requests = [{"task": "shorten", "target_language": settings.target_language,
                 "segments": lines[index : index + settings.batch_size]}
                for index in range(0, len(lines), settings.batch_size)]
    return _answers(requests, SHORTEN_PROMPT, settings, "shortening")
