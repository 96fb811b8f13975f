"""A lean HTTP path for one audio request per process (per-segment jobs).

Importing the openai SDK costs about 0.8 s of CPU, more than a per-segment job's own work; with
hundreds of jobs on two cores that cost, not the API, sets the pace. So per-segment jobs speak the
same wire format with plain httpx (about 0.1 s to import), raising errors shaped like the SDKs'
(status code, parsed JSON body, response headers) so the one retry loop judges them the same way.
The async batch mode uses the official SDKs (one process, the import paid once).
"""

import json


class ApiStatusError(Exception):
    """A non-2xx answer: ``status_code``, ``body`` (parsed JSON or text) and ``response`` (for headers)."""

    def __init__(self, response, body):
        self.status_code = response.status_code
        self.body = body
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


def post_audio(url, dest, *, headers, json_body, params=None, timeout=60.0):
    """POST ``json_body`` and stream the audio answer into ``dest``; raise ApiStatusError on errors."""
    import httpx

    with httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0)) as client:
        with client.stream("POST", url, headers=headers, json=json_body, params=params) as response:
            if response.status_code >= 400:
                raw = response.read()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")[:500]
                raise ApiStatusError(response, body)
            with open(dest, "wb") as out:
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
