"""The environment variables that hold API keys: one table, below both the backend registry (which names
the key each provider reads) and ``secrets`` (which redacts every one of them), so neither imports the
other. A new provider adds its key here; tests/test_secrets.py checks every registered key is listed."""

OPENAI = "OPENAI_API_KEY"
ELEVENLABS = "ELEVENLABS_API_KEY"

ALL = (OPENAI, ELEVENLABS)
