"""The video's AAC track, encoded in parts at once and joined at frame boundaries without a seam.

ffmpeg's AAC encoder is single-threaded and the slowest step after synthesis (about 37 s of one core
per hour of 48 kHz stereo at 192 kbit/s, even with the fast coder). Here the PCM stream is cut into
``parts`` pieces on the 1024-sample frame grid; each piece is encoded by its own ffmpeg, fed from a
little before its start (PREROLL, so the encoder's state has settled) to a little past its end
(TAIL, its look-ahead), and only the frames that belong to the piece are kept. AAC frames overlap
by half a window and every encoder sees the same samples around a cut, so the joined stream decodes
like a single encoder's (measured: the same error against the source at the cuts as elsewhere).

The pieces are written as ADTS (self-delimiting frames, easy to cut), joined, and put into MP4 with
the priming frame's 1024 samples marked to skip and the last frame's true length, as ffmpeg does
for a single encode, so the track starts at sample 0 and is as long as the PCM (to the MP4 edit
list's millisecond).

Every piece but the last is buffered in a scratch file and encoded once it is complete; the last
is piped to its encoder as the stream arrives. Memory stays small; disk holds the buffered pieces
(raw PCM) until the job ends.
"""

import contextlib
import json
import subprocess
import tempfile

from .audio import FFMPEG, SAMPLE_RATE, run_tool, tool_error
from .errors import DubbingError
from .files import atomic_output, scratch_file

FRAME = 1024  # samples per AAC frame
PRIMING = FRAME  # ffmpeg's encoder delay: its first frame decodes to 1024 samples to skip
PREROLL = 8 * FRAME
TAIL = 4 * FRAME
MIN_PART = 10 * SAMPLE_RATE  # shorter pieces are not worth another encoder
READ_BYTES = 1 << 20


def plan_parts(total, parts):
    """Pieces of a ``total``-sample stream as (keep_start, keep_end, feed_start, feed_end) samples.

    Cuts fall on the frame grid; the first piece also keeps the priming frame (keep_start -PRIMING).
    """
    parts = max(1, min(int(parts), total // MIN_PART))
    cuts = [0] + [round(total * k / parts / FRAME) * FRAME for k in range(1, parts)] + [total]
    plan = []
    for k in range(parts):
        keep_start = -PRIMING if k == 0 else cuts[k]
        feed_start = max(0, cuts[k] - PREROLL)
        feed_end = total if k == parts - 1 else min(total, cuts[k + 1] + TAIL)
        plan.append((keep_start, cuts[k + 1], feed_start, feed_end))
    return plan


def frame_count(total):
    """Frames of an encode of ``total`` samples: the priming frame plus ceil(total / FRAME)."""
    return -(-total // FRAME) + 1


def kept_frames(piece, total):
    """Indexes [first, end) of the frames of ``piece``'s own encode that the joined stream keeps.

    Frame j of an encode fed from ``feed_start`` holds the samples from ``feed_start + (j - 1) * FRAME``.
    """
    keep_start, keep_end, feed_start, _ = piece
    first = (keep_start - feed_start) // FRAME + 1
    end = (min(keep_end, total) - feed_start + FRAME - 1) // FRAME + 1
    return first, end


def adts_frames(stream, path):
    """Yield the frames (header included) of an ADTS byte ``stream``, one AAC frame each."""
    pos = 0
    while header := stream.read(7):
        if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
            raise DubbingError(path, f"encoding AAC failed: the encoder wrote a broken ADTS frame at byte {pos}")
        length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
        body = stream.read(length - 7) if length > 7 else b""
        if length < 7 or len(body) != length - 7:
            raise DubbingError(path, f"encoding AAC failed: the encoder wrote a cut-off ADTS frame at byte {pos}")
        yield header + body
        pos += length


class _Encoder:
    """One ffmpeg AAC encoder for one piece, writing ADTS to a scratch file."""

    def __init__(self, adts_path, channels, bitrate, source=None):
        self.err = tempfile.TemporaryFile()
        cmd = FFMPEG + ["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", str(channels), "-i", str(source or "-"),
                        "-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate, "-f", "adts", str(adts_path)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL if source else subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=self.err)

    def finish(self, dest):
        if self.proc.stdin:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        code = self.proc.wait()
        self.err.seek(0)
        text = self.err.read().decode("utf-8", "replace")
        self.err.close()
        if code != 0:
            raise tool_error(dest, "encoding AAC", text, code)


class PartedEncoder:
    """Consume a raw s16 PCM stream (``feed(stream)``) and write it as AAC in MP4 to ``dest``.

    Use as a context manager around the producer; ``feed`` runs in the thread that reads the
    producer's output and always reads the stream to its end, so the producer never blocks.
    ``dest`` appears (atomically) when the block ends without an error after ``finish()``.
    """

    def __init__(self, dest, total, channels, bitrate, parts):
        self.dest, self.total, self.channels, self.bitrate = dest, total, channels, bitrate
        self.plan = plan_parts(total, parts)
        self.stack = contextlib.ExitStack()
        self.encoders = []
        self.received = 0

    def __enter__(self):
        # The output's temporary file first: atomic_output clears older scratch files of ``dest``.
        self.tmp = self.stack.enter_context(atomic_output(self.dest, ".m4a"))
        self.pcm = [self.stack.enter_context(scratch_file(self.dest, f".part{k}.s16"))
                    for k in range(len(self.plan) - 1)]
        self.adts = [self.stack.enter_context(scratch_file(self.dest, f".part{k}.aac"))
                     for k in range(len(self.plan))]
        return self

    def __exit__(self, *exc):
        for encoder in self.encoders:  # on an error, stop the others
            if encoder.proc.poll() is None:
                encoder.proc.kill()
                encoder.proc.wait()
        return self.stack.__exit__(*exc)

    def feed(self, stream):
        """Read the whole PCM ``stream``, routing each piece's samples to its buffer or its encoder."""
        width = 2 * self.channels
        last = len(self.plan) - 1
        buffers = [open(path, "wb") for path in self.pcm]  # noqa: SIM115 - closed as each piece completes
        live = None
        pos = 0
        failure = None
        try:
            while chunk := stream.read(READ_BYTES - READ_BYTES % width):
                while len(chunk) % width:  # a short read that split a sample frame: complete it
                    more = stream.read(width - len(chunk) % width)
                    if not more:
                        raise DubbingError(self.dest, "encoding AAC failed: the mix ended inside a sample")
                    chunk += more
                view, start = memoryview(chunk), pos
                pos += len(chunk) // width
                for k, (_, _, feed_start, feed_end) in enumerate(self.plan):
                    lo, hi = max(start, feed_start), pos if k == last else min(pos, feed_end)
                    if k == last and hi > lo:
                        if live is None:
                            live = _Encoder(self.adts[k], self.channels, self.bitrate)
                            self.encoders.append(live)
                        live.proc.stdin.write(view[(lo - start) * width : (hi - start) * width])
                    elif k < last and not buffers[k].closed and hi > lo:
                        buffers[k].write(view[(lo - start) * width : (hi - start) * width])
                        if hi >= feed_end:
                            buffers[k].close()
                            self.encoders.append(_Encoder(self.adts[k], self.channels, self.bitrate,
                                                          source=self.pcm[k]))
        except (BrokenPipeError, OSError) as error:
            failure = error
            while stream.read(READ_BYTES):  # keep the producer going to its end
                pass
        finally:
            for buffer in buffers:
                buffer.close()
        self.received = pos
        if live is not None and live.proc.stdin:
            with contextlib.suppress(BrokenPipeError):
                live.proc.stdin.close()
        if failure and not self.encoders:
            raise DubbingError(self.dest, f"encoding AAC failed: {failure}")

    def finish(self):
        """Wait for the encoders, join their frames and write ``dest``."""
        for encoder in self.encoders:
            encoder.finish(self.dest)
        if self.received != self.total or len(self.encoders) != len(self.plan):
            raise DubbingError(self.dest, f"encoding AAC failed: expected {self.total} samples from the mix, "
                                          f"got {self.received}")
        with scratch_file(self.dest, ".joined.aac") as joined:
            count = 0
            with open(joined, "wb") as out:
                for k, piece in enumerate(self.plan):
                    first, end = kept_frames(piece, self.total)
                    have = 0
                    with open(self.adts[k], "rb") as frames:
                        for index, frame in enumerate(adts_frames(frames, self.dest)):
                            have = index + 1
                            if index >= end:
                                break
                            if index >= first:
                                out.write(frame)
                    if have < end:
                        raise DubbingError(self.dest, f"encoding AAC failed: piece {k} has {have} frames, "
                                                      f"{end} expected")
                    count += end - first
            if count != frame_count(self.total):
                raise DubbingError(self.dest, f"encoding AAC failed: {count} frames joined, "
                                              f"{frame_count(self.total)} expected")
            self._to_mp4(joined, count)

    def _to_mp4(self, joined, count):
        # The ADTS demuxer numbers frames from 0; shift them back by the priming frame (the MP4 muxer
        # turns the negative start into an edit list) and give the last frame its true length.
        # ffmpeg 5.1's setts sees the packets in the MP4 track's time base, 1/48000 here, so both are in samples.
        last = self.total - (count - 2) * FRAME
        timing = (f"setts=pts=PTS-{PRIMING}:dts=DTS-{PRIMING}:"
                  f"duration=if(eq(N\\,{count - 1})\\,{last}\\,DURATION)")
        run_tool(FFMPEG + ["-f", "aac", "-i", str(joined), "-c:a", "copy", "-bsf:a", timing, "-f", "mp4", str(self.tmp)],
                 self.dest, "writing the AAC track")
        self._check(self.tmp)

    def _check(self, path):
        """The MP4 must start with the priming frame and last ``total`` samples (ffmpeg versions differ)."""
        cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-read_intervals", "%+#1",
               "-show_entries", "stream=duration_ts:packet=pts", "-of", "json", str(path)]
        info = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        first = info.get("packets", [{}])[0].get("pts")
        length = info.get("streams", [{}])[0].get("duration_ts")
        # The edit list counts in the movie's milliseconds, so the length is exact to 1 ms (48 samples).
        if first != -PRIMING or length is None or abs(length - self.total) >= SAMPLE_RATE // 1000:
            raise DubbingError(self.dest, f"writing the AAC track failed: this ffmpeg wrote it starting at {first} "
                                          f"and {length} samples long (expected {-PRIMING} and {self.total})")
