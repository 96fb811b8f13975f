"""Review and fix a dub in the browser: ``make review VIDEO=media/<video>.mp4``.

    python tools/review.py VIDEO [--language es] [--port N] [--cores 5] [--config KEY=VALUE ...]

Serves one page on 127.0.0.1 only, at a URL with a random token that it prints; every request without
the token, from another origin or for another host name is refused (403). The page shows the dubbed
video, a timeline and the lines; it saves edits to the user's script (``dubbing.review.Dub.save``) and
re-dubs by running the ordinary Snakemake target (``dubbing.review.Redub``): it is a client of the
workflow, never a second pipeline. Stop it with Ctrl-C.
"""

import argparse
import hashlib
import hmac
import logging
import secrets
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from dubbing import review  # noqa: E402
from dubbing.errors import DubbingError  # noqa: E402

PAGE = Path(__file__).resolve().parent / "review_page"
STATIC = {"review.js": "text/javascript", "review.css": "text/css"}
HEADERS = {
    # Only the page's own files run; a line's text can never become markup or script (it is set as text).
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "media-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never send it elsewhere
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def create_app(dub, redub, token, port):
    from flask import Flask, Response, abort, jsonify, request, send_file

    app = Flask(__name__, static_folder=None)
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    origins = {f"http://{host}" for host in hosts}

    @app.before_request
    def guard():
        # A page on another site (or a DNS name pointed at 127.0.0.1) must not reach this one.
        if request.host not in hosts:
            abort(403, "unknown host")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in origins:
            abort(403, "another origin")
        given = request.args.get("token") or request.headers.get("X-Review-Token") or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(403, "no token: open the URL `make review` printed")
        if request.method == "POST" and not request.is_json:
            abort(415, "JSON only")

    @app.after_request
    def headers(response):
        response.headers.update(HEADERS)
        return response

    def refused(error, status=400):
        return jsonify({"error": str(error)}), status

    @app.get("/")
    def page():
        html = (PAGE / "index.html").read_text(encoding="utf-8").replace("{{TOKEN}}", token)
        return Response(html, mimetype="text/html")

    @app.get("/static/<name>")
    def static_file(name):
        if name not in STATIC:
            abort(404)
        return send_file(PAGE / name, mimetype=STATIC[name])

    @app.get("/api/state")
    def state():
        try:
            return jsonify(dub.state())
        except DubbingError as error:
            return refused(error, 404)

    @app.get("/api/version")
    def version():
        try:
            return jsonify({"version": dub.version()})
        except DubbingError as error:
            return refused(error, 404)

    @app.post("/api/save")
    def save():
        body = request.get_json()
        try:
            return jsonify(dub.save(body.get("version", ""), body.get("edits") or []))
        except review.Conflict as error:
            return refused(error, 409)
        except DubbingError as error:
            return refused(error)

    @app.post("/api/cost")
    def cost():
        return jsonify(dub.costs(request.get_json().get("lines") or []))

    @app.get("/media/video")
    def video():
        path = dub.shared / "dubbed.mp4"
        if not path.exists():
            abort(404)
        return send_file(path, mimetype="video/mp4", conditional=True)

    @app.get("/media/<kind>/<seg_id>.wav")
    def clip(kind, seg_id):
        if kind not in ("original", "dub"):
            abort(404)
        try:
            data = dub.clip(kind, seg_id)
        except (KeyError, FileNotFoundError, DubbingError):
            abort(404)
        return Response(data, mimetype="audio/wav")

    @app.get("/api/redub")
    def redub_status():
        return jsonify(redub.status())

    @app.post("/api/redub")
    def redub_start():
        try:
            redub.start()
        except DubbingError as error:
            return refused(error, 409)
        return jsonify(redub.status())

    @app.post("/api/redub/stop")
    def redub_stop():
        return jsonify({"stopping": redub.stop()})

    return app


def stable_port(video, language):
    """The port a video's page gets unless it is taken (20000-29999, from the video's name and language)."""
    return 20000 + int(hashlib.sha256(f"{video}/{language}".encode()).hexdigest(), 16) % 10000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", help="media/<video>.mp4 or the video's name")
    parser.add_argument("--language", default="", help="the target language to review (default: the first)")
    parser.add_argument("--port", type=int, default=None,
                        help="port on 127.0.0.1; 0: any free one (default: one derived from the video's name, "
                             "else any free one)")
    parser.add_argument("--cores", default="5")
    parser.add_argument("--config", nargs="*", default=[], help="KEY=VALUE as for snakemake --config")
    args = parser.parse_args(argv)
    from werkzeug.serving import make_server

    name = Path(args.video).stem if args.video.endswith(tuple((".mp4", ".mkv", ".mov", ".webm"))) else args.video
    try:
        config = review.load_config(REPO, args.config)
        dub = review.Dub(REPO, name, config, args.language)
        dub.script_source()
    except DubbingError as error:
        print(error, file=sys.stderr)
        return 1
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake), "--cores", str(args.cores), dub.target]
    if args.config:
        command += ["--config", *args.config]
    token = secrets.token_urlsafe(24)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # request lines would print the token
    server = None
    if args.port is None:  # the same port for the same video each time: the page's origin, and its unsaved edits, stay
        try:
            server = make_server("127.0.0.1", stable_port(name, dub.language), None, threaded=True)
        except OSError:
            server = None  # taken: any free port
    server = server or make_server("127.0.0.1", args.port or 0, None, threaded=True)
    server.app = create_app(dub, review.Redub(dub, command), token, server.server_port)
    print(f"review {name}{' (' + dub.language + ')' if dub.several else ''}: "
          f"http://127.0.0.1:{server.server_port}/?token={token}", flush=True)
    print("(this page only; Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
