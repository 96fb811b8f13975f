"""The review page (make review, tools/review.py): a real server on 127.0.0.1, driven by Debian's Chromium.

The page is a client of the workflow: it edits media/<video>.script.tsv and re-dubs with the ordinary
Snakemake target. These tests load it in a real browser, play a line, edit one, re-dub, and check the new
dub's audio and that exactly one line was voiced; and they check what must never happen: a request
without the token or from another origin served, a line's markup run, an edit lost.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import browser
from browser import wait_for
from conftest import API_KEY, MEDIA, api_env, clean_env, decode, make_workdir, run_snakemake

from dubbing.script import parse_script

pytestmark = pytest.mark.e2e

class Server:
    """``tools/review.py`` of a workflow copy, started as `make review` starts it."""

    def __init__(self, workdir, video="lesson", port=0, config=(), env=None):
        self.workdir = Path(workdir)
        extra = ["--config", *config] if config else []
        self.process = subprocess.Popen([sys.executable, "tools/review.py", video, "--port", str(port), "--cores", "2",
                                         *extra], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env or clean_env(), start_new_session=True)
        first = self.process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:(\d+))/\?token=(\S+)", first)
        assert found, f"no URL printed: {first!r}"
        self.base, self.port, self.token = found.group(1), int(found.group(2)), found.group(3)
        self.url = f"{self.base}/?token={self.token}"

    def request(self, path, body=None, token=True, headers=None, method=None):
        """(status, parsed JSON or text) of one request."""
        separator = "&" if "?" in path else "?"
        target = f"{self.base}{path}{separator}token={self.token}" if token else f"{self.base}{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(target, data=data, method=method or ("POST" if data is not None else "GET"),
                                         headers={**({"Content-Type": "application/json"} if data else {}),
                                                  **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def wait_redub(self, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            _status, state = self.request("/api/redub")
            if state["state"] != "running":
                return state
            time.sleep(0.3)
        raise AssertionError("the re-dub did not finish")

    def snakemake_pids(self):
        """Processes in the server's session running Snakemake (the re-dub)."""
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.getsid(int(proc.name)) != self.process.pid:
                    continue
                command = (proc / "cmdline").read_bytes().split(b"\0")
            except (OSError, ProcessLookupError):
                continue
            if any(part.endswith(b"/snakemake") for part in command[:2]) and b"--unlock" not in command:
                pids.append(int(proc.name))
        return pids

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory):
    """A workdir where media/lesson.mp4 (with its subtitles, no script of the user's) was dubbed once."""
    workdir = make_workdir(tmp_path_factory.mktemp("review") / "wf",
                           [(MEDIA / "demo.mp4", "lesson.mp4"), (MEDIA / "demo.srt", "lesson.srt")])
    run_snakemake(workdir, "results/lesson/dubbed.mp4")
    return workdir


@pytest.fixture
def workdir(dubbed, tmp_path):
    """A private copy of the dubbed workdir (each test edits and re-dubs its own)."""
    copy = tmp_path / "wf"
    shutil.copytree(dubbed, copy, symlinks=True)
    return copy


@pytest.fixture
def server(workdir):
    started = Server(workdir)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def chromium():
    driver = browser.chromium()
    yield driver
    driver.quit()


def open_page(browser, server):
    browser.get(server.url)
    wait_for(lambda: browser.execute_script("return document.body.dataset.ready") == "yes", "the page to load")
    return browser


def row(browser, seg_id):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f'.line[data-id="{seg_id}"]')


def field(browser, seg_id, name):
    from selenium.webdriver.common.by import By

    return row(browser, seg_id).find_element(By.CSS_SELECTOR, f'[data-field="{name}"]')


def set_field(browser, seg_id, name, value):
    element = field(browser, seg_id, name)
    element.clear()
    element.send_keys(value)


def click(browser, element_id):
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, element_id).click()


def status(browser):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, "status").text


def script_rows(path):
    return {seg.id: seg for seg in parse_script(Path(path).read_text(encoding="utf-8"))}


def line_audio(workdir, seg_id, rate=16000):
    """The dub track's samples over one line's placed time."""
    timing = {line.split("\t")[0]: line.split("\t") for line in
              (workdir / "results/lesson/timing.tsv").read_text(encoding="utf-8").splitlines()[1:]}
    start, end = float(timing[seg_id][9]), float(timing[seg_id][10])
    samples = decode(workdir / "results/lesson/dub.wav", rate)
    return samples[int(start * rate):int(end * rate)]


def test_the_server_listens_on_loopback_only_and_refuses_requests_without_its_token_or_from_elsewhere(server):
    assert server.request("/api/state")[0] == 200
    assert server.request("/api/state", token=False)[0] == 403
    assert server.request("/?token=wrong", token=False)[0] == 403
    assert server.request("/api/state", headers={"X-Review-Token": "wrong"}, token=False)[0] == 403
    assert server.request("/api/state", headers={"X-Review-Token": server.token}, token=False)[0] == 200
    assert server.request("/media/original/0001.wav", token=False)[0] == 403
    # A page elsewhere, or a DNS name rebound to 127.0.0.1, is refused even with the token.
    assert server.request("/api/state", headers={"Origin": "http://evil.example"})[0] == 403
    assert server.request("/api/state", headers={"Host": f"evil.example:{server.port}"})[0] == 403
    assert server.request("/api/state", headers={"Origin": server.base})[0] == 200
    status, _body = server.request("/api/save", body=None, method="POST")
    assert status == 415  # a form post (what another site can send without CORS) is not JSON
    # The listening socket is bound to 127.0.0.1 alone (/proc/net/tcp: local address 0100007F, LISTEN).
    listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A" and line.split()[1].endswith(f":{server.port:04X}")]
    assert [entry[1].split(":")[0] for entry in listening] == ["0100007F"]
    assert not Path("/proc/net/tcp6").exists() or f":{server.port:04X} " not in Path("/proc/net/tcp6").read_text()
    # The token is printed once, to the terminal; it is in no log or result.
    for path in (server.workdir / "logs").rglob("*"):
        assert not path.is_file() or server.token not in path.read_text(errors="replace")


def test_in_chromium_a_line_is_heard_edited_and_redubbed_voicing_only_that_line(chromium, server, workdir):
    from selenium.webdriver.common.by import By

    generated = script_rows(workdir / "results/lesson/script.tsv")
    before = {seg_id: line_audio(workdir, seg_id) for seg_id in ("0002", "0003")}
    page = open_page(chromium, server)
    assert len(page.find_elements(By.CSS_SELECTOR, "#rows .line")) == len(generated)
    assert "made from results/lesson/script.tsv on the first save" in page.find_element(By.ID, "scriptinfo").text

    # Play the original of line 0002: the page fetches just that line and plays it.
    row(page, "0002").find_element(By.CSS_SELECTOR, ".play-original").click()
    wait_for(lambda: page.execute_script("const c = document.getElementById('clip');"
                                         "return c.currentTime > 0.2 && c.dataset.playing === 'original:0002'"),
             "line 0002's original to play")
    length = page.execute_script("return document.getElementById('clip').duration")
    slot = generated["0002"]
    assert abs(length - (slot.end - slot.start + 0.2)) < 0.01  # the line's own time (and 0.1 s either side)

    new_text = "Water covers most of the planet."
    set_field(page, "0003", "text", new_text)
    wait_for(lambda: page.find_element(By.ID, "save").text == "Save (1)", "one edited line")
    wait_for(lambda: "1 request" not in row(page, "0003").find_element(By.CSS_SELECTOR, ".cost").text
             and "offline voice" in row(page, "0003").find_element(By.CSS_SELECTOR, ".cost").text,
             "the cost of the edited line")
    assert "in the last dub" in row(page, "0002").find_element(By.CSS_SELECTOR, ".cost").text
    click(page, "redub")  # saves first, then runs the workflow's own target
    wait_for(lambda: "re-dub done" in status(page), "the re-dub", timeout=240)
    assert re.search(r"voiced 1 line\(s\) \(0003\)", status(page)), status(page)

    user = script_rows(workdir / "media/lesson.script.tsv")
    assert user["0003"].text == new_text
    assert {k: v for k, v in user.items() if k != "0003"} == {k: v for k, v in generated.items() if k != "0003"}
    assert json.loads((workdir / "results/lesson/synth_batch.json").read_text())["synthesized"] == 1
    assert new_text in (workdir / "results/lesson/dubbed.srt").read_text(encoding="utf-8")
    # The new words are in the dub, the neighbour line is bit for bit what it was.
    assert np.array_equal(line_audio(workdir, "0002"), before["0002"])
    after = line_audio(workdir, "0003")
    assert after.size != before["0003"].size or not np.array_equal(after, before["0003"])
    assert field(page, "0003", "text").get_attribute("value") == new_text  # reloaded from the new dub
    assert "in the last dub" in row(page, "0003").find_element(By.CSS_SELECTOR, ".cost").text
    # A second run has nothing left to do.
    assert "Nothing to be done" in run_snakemake(workdir, "results/lesson/dubbed.mp4", "-n").stdout


def test_markup_and_script_in_a_line_are_shown_as_text_never_run(chromium, server, workdir):
    from selenium.webdriver.common.by import By

    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "quoted" \u202eevil'
    page = open_page(chromium, server)
    set_field(page, "0004", "text", hostile)
    set_field(page, "0005", "speaker", "<b onmouseover=window.pwned=3>Bob</b>")
    click(page, "save")
    wait_for(lambda: "saved 2 line(s)" in status(page), "the save")
    assert script_rows(workdir / "media/lesson.script.tsv")["0004"].text == hostile
    user = workdir / "media/lesson.script.tsv"  # and markup written in a text editor, in the source column
    source = user.read_text(encoding="utf-8").splitlines()[2].split("\t")[4]
    user.write_text(user.read_text(encoding="utf-8").replace(source, hostile), encoding="utf-8")
    page = open_page(chromium, server)  # a fresh load shows the saved text
    assert row(page, "0002").find_element(By.CSS_SELECTOR, ".source").text == hostile.replace("\u202e", "\u202e")
    assert field(page, "0004", "text").get_attribute("value") == hostile
    assert field(page, "0005", "speaker").get_attribute("value") == "<b onmouseover=window.pwned=3>Bob</b>"
    assert page.execute_script("return window.pwned") is None
    assert page.find_elements(By.CSS_SELECTOR, "#lines img, #lines script, #lines b") == []


def test_bad_input_is_refused_in_the_page_with_the_workflows_own_message(chromium, server, workdir):
    page = open_page(chromium, server)
    set_field(page, "0002", "end", "4")
    click(page, "save")
    message = "media/lesson.script.tsv: line 3 (id 0002): end 4.000 is not after start 5.500"
    wait_for(lambda: message in status(page), "the refusal")
    assert message in row(page, "0002").text and "bad" in row(page, "0002").get_attribute("class")
    assert not (workdir / "media/lesson.script.tsv").exists()  # nothing written
    # The same script given to the workflow stops with the same words.
    set_field(page, "0002", "end", "8.926")
    set_field(page, "0003", "start", "8")
    click(page, "save")
    wait_for(lambda: "segments 0002 and 0003 overlap" in status(page), "the overlap refusal")
    set_field(page, "0003", "start", "10.2")
    set_field(page, "0003", "text", "   ")
    click(page, "save")
    wait_for(lambda: "line 4 (id 0003): text is empty" in status(page), "the empty-text refusal")
    assert not (workdir / "media/lesson.script.tsv").exists()


def test_edits_made_meanwhile_in_a_text_editor_are_merged_or_refused_never_lost(server, workdir):
    _status, state = server.request("/api/state")
    version = state["version"]
    generated = (workdir / "results/lesson/script.tsv").read_text(encoding="utf-8")
    user = workdir / "media/lesson.script.tsv"
    # The first save creates the user's script from the generated one.
    status, saved = server.request("/api/save", {"version": version, "edits": [
        {"id": "0001", "base": {"text": state["lines"][0]["text"]}, "new": {"text": "Welcome."}}]})
    assert status == 200 and saved["script"] == "media/lesson.script.tsv"
    assert script_rows(user)["0001"].text == "Welcome."
    version = saved["version"]
    # Meanwhile, in a text editor: line 0004 changed. The page's edit of 0002 merges with it.
    user.write_text(user.read_text(encoding="utf-8").replace(state["lines"][3]["text"], "Edited in an editor."),
                    encoding="utf-8")
    status, saved = server.request("/api/save", {"version": version, "edits": [
        {"id": "0002", "base": {"speaker": ""}, "new": {"speaker": "Ana"}}]})
    assert status == 200 and saved["merged"] is True
    rows = script_rows(user)
    assert (rows["0001"].text, rows["0002"].speaker, rows["0004"].text) == ("Welcome.", "Ana", "Edited in an editor.")
    # The editor changes 0002's speaker again; the page, still on its old version, edits the same field: refused.
    on_disk = user.read_text(encoding="utf-8").replace("\tAna\t", "\tBen\t")
    user.write_text(on_disk, encoding="utf-8")
    status, refused = server.request("/api/save", {"version": version, "edits": [
        {"id": "0002", "base": {"speaker": ""}, "new": {"speaker": "Carla"}}]})
    assert status == 409 and "0002 (speaker)" in refused["error"] and "still in the page" in refused["error"]
    assert user.read_text(encoding="utf-8") == on_disk  # whole, and theirs
    # A killed server leaves the script whole; a new one shows what was saved.
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()
    assert script_rows(user)["0002"].speaker == "Ben"
    again = Server(workdir)
    try:
        _status, state = again.request("/api/state")
        assert state["from"] == "media/lesson.script.tsv"
        assert [line["text"] for line in state["lines"]][:1] == ["Welcome."]
        assert [line["changed"] for line in state["lines"]] == [True, True, False, True, False, False]
    finally:
        again.stop()
    assert generated == (workdir / "results/lesson/script.tsv").read_text(encoding="utf-8")  # results untouched


def test_a_page_without_unsaved_edits_follows_the_script_when_an_editor_changes_it(chromium, server, workdir):
    page = open_page(chromium, server)
    user = workdir / "media/lesson.script.tsv"
    shutil.copy(workdir / "results/lesson/script.tsv", user)
    text = user.read_text(encoding="utf-8")
    first = text.splitlines()[1].split("\t")[5]
    user.write_text(text.replace(first, "Changed outside."), encoding="utf-8")
    wait_for(lambda: "changed in another program: reloaded" in status(page), "the page to notice", timeout=20)
    assert field(page, "0001", "text").get_attribute("value") == "Changed outside."


def test_one_redub_at_a_time_and_a_killed_redub_is_reported_and_recovered(server, workdir):
    _status, state = server.request("/api/state")
    server.request("/api/save", {"version": state["version"], "edits": [
        {"id": "0005", "base": {"text": state["lines"][4]["text"]}, "new": {"text": "Clouds bring the rain."}}]})
    status, started = server.request("/api/redub", {})
    assert status == 200 and started["state"] == "running"
    status, second = server.request("/api/redub", {})
    assert status == 409 and "already running" in second["error"]
    pids = wait_for(server.snakemake_pids, "Snakemake to start", timeout=30)
    # Killed while its first job runs (the run has most of its steps still to do).
    wait_for(lambda: server.request("/api/redub")[1]["message"].startswith("running "), "a job to start", timeout=60)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    stopped = server.wait_redub()
    assert stopped["state"] == "stopped" and "SIGKILL" in stopped["message"], stopped
    assert script_rows(workdir / "media/lesson.script.tsv")["0005"].text == "Clouds bring the rain."
    server.request("/api/redub", {})
    done = server.wait_redub()
    assert done["state"] == "done", done
    assert "Clouds bring the rain." in (workdir / "results/lesson/dubbed.srt").read_text(encoding="utf-8")


def test_unsaved_edits_survive_a_killed_server_and_are_saved_after_a_restart(chromium, server, workdir):
    page = open_page(chromium, server)
    set_field(page, "0006", "text", "See you next time.")
    wait_for(lambda: chromium.find_element("id", "save").text == "Save (1)", "the edit")
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()
    wait_for(lambda: "does not answer" in status(page), "the page to say the server stopped", timeout=20)
    assert not (workdir / "media/lesson.script.tsv").exists()
    # make review again (the same port: a video's port is derived from its name, so the page's origin is the
    # same): the new page has the edit back, and saves it.
    again = Server(workdir, port=server.port)
    try:
        page = open_page(chromium, again)
        assert "restored 1 unsaved edit(s)" in status(page)
        assert field(page, "0006", "text").get_attribute("value") == "See you next time."
        click(page, "save")
        wait_for(lambda: "saved 1 line(s)" in status(page), "the save")
        assert script_rows(workdir / "media/lesson.script.tsv")["0006"].text == "See you next time."
        page = open_page(chromium, again)  # saved: nothing left to restore
        assert "restored" not in status(page)
    finally:
        again.stop()


def test_each_video_gets_the_same_port_every_time(workdir):
    import socket

    from review import stable_port  # tools/review.py

    name = f"talk{os.getpid()}"  # a name no other run of this test uses at the same time
    (workdir / "results" / name).mkdir()
    shutil.copy(workdir / "results/lesson/script.tsv", workdir / "results" / name / "script.tsv")
    expected = stable_port(name, "en")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", expected)) == 0:
            pytest.skip(f"port {expected} is taken by another program here")
    for _run in range(2):
        started = subprocess.Popen([sys.executable, "tools/review.py", name], cwd=workdir, stdout=subprocess.PIPE,
                                   text=True, env=clean_env(), start_new_session=True)
        try:
            assert re.search(r":(\d+)/", started.stdout.readline()).group(1) == str(expected)
        finally:
            os.killpg(started.pid, signal.SIGTERM)
            started.wait()


def test_with_several_languages_each_is_reviewed_in_its_own_folder_and_script(tmp_path):
    from dubbing.errors import DubbingError
    from dubbing.review import Dub

    dub = Dub(tmp_path, "lesson", {"target_language": ["es", "de"]}, "de")
    assert (dub.folder, dub.script, dub.target) == (tmp_path / "results/lesson/dub-de",
                                                     tmp_path / "media/lesson.de.script.tsv", "results/lesson/dubbed.mp4")
    assert Dub(tmp_path, "lesson", {"target_language": ["es", "de"]}).language == "es"
    one = Dub(tmp_path, "lesson", {"target_language": "es"})
    assert (one.folder, one.script) == (tmp_path / "results/lesson", tmp_path / "media/lesson.script.tsv")
    with pytest.raises(DubbingError, match="fr is not a target language of this run"):
        Dub(tmp_path, "lesson", {"target_language": ["es", "de"]}, "fr")
    with pytest.raises(DubbingError, match=r"no script yet: dub the video once"):
        one.state()


def test_with_a_paid_voice_one_edited_line_costs_one_request(api, workdir):
    """The same loop with OpenAI's voice (the local test server): the page says one request, and one is sent."""
    config = ["tts_backend=openai"]
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", *config, env=api_env(api))
    server = Server(workdir, config=config, env=api_env(api))
    try:
        _status, state = server.request("/api/state")
        assert {line["cost"]["requests"] for line in state["lines"]} == {0}  # everything is in the last dub
        edited = dict(state["lines"][2], text="Most of the water on Earth is salt water.", changed=True)
        _status, costs = server.request("/api/cost", {"lines": [*state["lines"][:2], edited, *state["lines"][3:]]})
        assert costs[edited["id"]]["requests"] == 1 and costs[edited["id"]]["price"] > 0
        assert sum(cost["requests"] for cost in costs.values()) == 1
        status, _saved = server.request("/api/save", {"version": state["version"], "edits": [
            {"id": edited["id"], "base": {"text": state["lines"][2]["text"]}, "new": {"text": edited["text"]}}]})
        assert status == 200
        before = len(api.requests)
        server.request("/api/redub", {})
        done = server.wait_redub()
        assert done["state"] == "done" and done["requests"] == 1, done
        sent = [r["json"]["input"] for r in api.requests[before:] if r["path"] == "/v1/audio/speech"]
        assert sent == [edited["text"]]
        assert "1 request(s) sent" in done["message"]
    finally:
        server.stop()
    # The key the server and its re-dub ran with is in no log, result or Snakemake metadata.
    for folder in ("logs", "results", ".snakemake"):
        for path in (workdir / folder).rglob("*"):
            assert not path.is_file() or API_KEY.encode() not in path.read_bytes(), path


def test_keep_original_and_a_lines_voice_are_set_in_the_page_and_saved_as_script_columns(chromium, server, workdir):
    from selenium.webdriver.support.ui import Select

    page = open_page(chromium, server)
    field(page, "0002", "keep_original").click()
    voices = [option.get_attribute("value") for option in Select(field(page, "0004", "voice")).options]
    assert voices[0] == "" and "en_US-joe-medium" in voices  # the speaker's voice, then the backend's voices
    Select(field(page, "0004", "voice")).select_by_value("en_US-joe-medium")
    # A kept line costs nothing: the original is heard there.
    wait_for(lambda: row(page, "0002").find_element("css selector", ".cost").text
             == "keep original (the original is heard)", "the kept line's cost")
    click(page, "save")
    wait_for(lambda: "saved 2 line(s)" in status(page), "the save")
    rows = script_rows(workdir / "media/lesson.script.tsv")
    assert rows["0002"].keep_original and not rows["0003"].keep_original
    assert rows["0004"].voice == "en_US-joe-medium" and rows["0005"].voice == ""
    header = (workdir / "media/lesson.script.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header[-2:] == ["keep_original", "voice"]


def test_a_redub_that_fails_says_why_in_the_workflows_words(server, workdir):
    """A script broken in a text editor: the re-dub stops at once and the page gets the workflow's message."""
    user = workdir / "media/lesson.script.tsv"
    shutil.copy(workdir / "results/lesson/script.tsv", user)
    user.write_text(re.sub(r"(?m)^0002\t5\.500\t8\.926", "0002\t5.500\t4.000", user.read_text(encoding="utf-8")),
                    encoding="utf-8")
    server.request("/api/redub", {})
    failed = server.wait_redub()
    assert failed["state"] == "failed"
    assert failed["message"] == ("re-dub failed: media/lesson.script.tsv: line 3 (id 0002): end 4.000 is not after "
                                 "start 5.500"), failed["message"]
    assert failed["voiced"] == []
