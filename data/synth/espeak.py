"""espeak-ng through its C library: raw 22.05 kHz speech plus phoneme events, bit-exact.

What it is
    A small ctypes binding to libespeak-ng (the shared library and voice data come from the
    ``espeakng-loader`` wheel, or a system ``libespeak-ng.so.1``) that returns, for one text, the
    int16 samples and the library's phoneme events (IPA names, sample positions) and word events.

Why there is a helper process
    libespeak-ng keeps synthesis state in C statics that no API call resets (e.g. the pitch
    "flutter" phase ``Flutter_ix`` and the wave generator's cycle state in ``wavegen.c``). Two
    identical requests in one process therefore give slightly different waves (we measured event
    positions moving by 1-300 samples). For a reproducible corpus every request must start from
    the same library state. The default backend ("zygote") starts one small stdlib-only helper
    process that loads and initialises the library once and never synthesises itself; for every
    request it ``fork()``s a child that synthesises from that pristine state, sends the result
    back over a pipe and exits. The fork of this tiny process costs about a millisecond.
    ``backend="spawn"`` (the default where ``fork`` does not exist, e.g. Windows) starts a fresh
    helper per request (slower, same result); ``backend="inprocess"`` calls the library in this
    process (fastest, but only reproducible up to the carried-over state described above).

Sources
    espeak-ng ``speak_lib.h`` (the public C API: ``espeak_Initialize``, ``espeak_SetSynthCallback``,
    ``espeak_EVENT``, ``espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_PHONEME_IPA``) and
    ``espeak_ng.h`` (``espeak_ng_SetRandSeed``, used by the Klatt voices' noise source).
    The event-callback pattern follows /work/shared/OFFLINE.md §4.

This file is also the helper's program: ``python -E -S espeak.py LIB DATA [--once]``. It imports
only the standard library so the helper stays small and starts fast.
"""

from __future__ import annotations

import ctypes as C
import json
import os
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass, asdict, field

# espeak_EVENT_TYPE values (speak_lib.h)
EV_LIST_TERMINATED, EV_WORD, EV_SENTENCE, EV_MARK, EV_PLAY, EV_END, EV_MSG_TERMINATED, EV_PHONEME = range(8)
# espeak_PARAMETER values
P_RATE, P_VOLUME, P_PITCH, P_RANGE, P_PUNCTUATION, P_CAPITALS, P_WORDGAP = 1, 2, 3, 4, 5, 6, 7
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA, _INIT_DONT_EXIT = 0x1, 0x2, 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1


@dataclass
class EspeakRequest:
    """One synthesis request (all integers are espeak's own units)."""

    text: str
    voice: str = "en-us"  # espeak voice name, optionally "+variant" (e.g. "de+m3")
    rate: int = 160  # words per minute, 80..450
    pitch: int = 50  # 0..99
    pitch_range: int = 50  # 0..99
    word_gap: int = 0  # extra pause between words, units of 10 ms
    rand_seed: int = 1  # seed of espeak's internal noise generator (Klatt voices)


@dataclass
class EspeakResult:
    samples: bytes  # int16 little-endian mono at `sample_rate`
    sample_rate: int
    # (symbol, sample) per phoneme event; symbol "" marks a pause. Sample positions are absolute
    # in `samples`, in event order.
    phonemes: list = field(default_factory=list)
    # (text_position (1-based character), length, sample) per word event
    words: list = field(default_factory=list)
    end_sample: int = 0  # position of the final END/MSG_TERMINATED event


class _Event(C.Structure):
    # espeak_EVENT (speak_lib.h); the id union is 8 bytes (number / name pointer / char[8]).
    _fields_ = [
        ("type", C.c_int),
        ("unique_identifier", C.c_uint),
        ("text_position", C.c_int),
        ("length", C.c_int),
        ("audio_position", C.c_int),
        ("sample", C.c_int),
        ("user_data", C.c_void_p),
        ("id", C.c_char * 8),
    ]


_Callback = C.CFUNCTYPE(C.c_int, C.POINTER(C.c_short), C.c_int, C.POINTER(_Event))


def _decode_ipa(raw: bytes) -> str:
    # The IPA name is at most 8 bytes and may be cut inside a UTF-8 sequence: drop a partial tail.
    for cut in range(len(raw), max(len(raw) - 4, -1), -1):
        try:
            return raw[:cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "ignore")


class EspeakEngine:
    """The library loaded in *this* process. espeak's state is global: create one per process."""

    def __init__(self, library_path: str, data_path: str):
        self.lib = C.CDLL(library_path)
        self.lib.espeak_Initialize.restype = C.c_int
        self.lib.espeak_Initialize.argtypes = [C.c_int, C.c_int, C.c_char_p, C.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [C.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [C.c_int, C.c_int, C.c_int]
        self.lib.espeak_Synth.argtypes = [C.c_char_p, C.c_size_t, C.c_uint, C.c_int, C.c_uint,
                                          C.c_uint, C.c_void_p, C.c_void_p]
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(),
            _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({self.sample_rate}) with data path {data_path}")
        self._chunks: list[bytes] = []
        self._events: list[tuple] = []
        self._callback = _Callback(self._on_synth)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self._busy = False

    def _on_synth(self, wav, n, events):
        if wav and n > 0:
            self._chunks.append(C.string_at(wav, 2 * n))
        i = 0
        while events[i].type != EV_LIST_TERMINATED:
            e = events[i]
            if e.type == EV_PHONEME:
                self._events.append((EV_PHONEME, _decode_ipa(bytes(e.id)), e.sample, 0, 0))
            elif e.type == EV_WORD:
                self._events.append((EV_WORD, "", e.sample, e.text_position, e.length))
            elif e.type in (EV_END, EV_MSG_TERMINATED):
                self._events.append((e.type, "", e.sample, 0, 0))
            i += 1
        return 0

    def synth(self, req: EspeakRequest) -> EspeakResult:
        if self._busy:
            raise RuntimeError("espeak is not re-entrant: synth() called while a synthesis runs")
        self._busy = True
        try:
            self._chunks, self._events = [], []
            if self.lib.espeak_SetVoiceByName(req.voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {req.voice!r}")
            for p, v in ((P_RATE, req.rate), (P_PITCH, req.pitch), (P_RANGE, req.pitch_range),
                         (P_WORDGAP, req.word_gap), (P_VOLUME, 100)):
                self.lib.espeak_SetParameter(p, int(v), 0)
            if hasattr(self.lib, "espeak_ng_SetRandSeed"):
                self.lib.espeak_ng_SetRandSeed(C.c_long(int(req.rand_seed) & 0x7FFFFFFF))
            text = req.text.encode("utf-8") + b"\0"
            err = self.lib.espeak_Synth(text, len(text), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if err != 0:
                raise RuntimeError(f"espeak_Synth failed with status {err}")
            self.lib.espeak_Synchronize()
            samples = b"".join(self._chunks)
            phonemes = [(s, smp) for k, s, smp, _, _ in self._events if k == EV_PHONEME]
            words = [(tp, ln, smp) for k, _, smp, tp, ln in self._events if k == EV_WORD]
            ends = [smp for k, _, smp, _, _ in self._events if k in (EV_END, EV_MSG_TERMINATED)]
            end = max(ends) if ends else len(samples) // 2
            return EspeakResult(samples, self.sample_rate, phonemes, words, end)
        finally:
            self._busy = False


# --------------------------------------------------------------------------- helper process wire

def _write_msg(stream, header: dict, payload: bytes = b"") -> None:
    h = json.dumps(header).encode()
    stream.write(struct.pack("<II", len(h), len(payload)) + h + payload)
    stream.flush()


def _read_exact(stream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        part = stream.read(n - len(buf))
        if not part:
            raise EOFError("espeak helper closed the pipe")
        buf += part
    return bytes(buf)


def _read_msg(stream) -> tuple[dict, bytes]:
    nh, npay = struct.unpack("<II", _read_exact(stream, 8))
    header = json.loads(_read_exact(stream, nh))
    return header, _read_exact(stream, npay) if npay else b""


def _answer(engine: EspeakEngine, header: dict, out) -> None:
    try:
        res = engine.synth(EspeakRequest(**header))
        meta = {k: v for k, v in asdict(res).items() if k != "samples"}
        _write_msg(out, {"ok": True, **meta}, res.samples)
    except Exception as exc:  # reported to the caller, who raises it
        _write_msg(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})


def _serve(library_path: str, data_path: str, once: bool) -> None:
    """Helper main loop: requests on stdin, answers on stdout."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    engine = EspeakEngine(library_path, data_path)  # initialised once, never synthesises here
    _write_msg(out, {"ready": True, "sample_rate": engine.sample_rate})
    while True:
        try:
            header, _ = _read_msg(inp)
        except EOFError:
            return
        if once:
            _answer(engine, header, out)
            return
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: synthesise from the pristine state, then vanish
            os.close(r)
            try:
                with os.fdopen(w, "wb") as wf:
                    _answer(engine, header, wf)
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as rf:
            data = rf.read()
        _, status = os.waitpid(pid, 0)
        if len(data) >= 8:
            out.write(data)
            out.flush()
        else:
            _write_msg(out, {"ok": False, "error": f"espeak child died (wait status {status})"})


# --------------------------------------------------------------------------- client side

def library_paths() -> tuple[str, str]:
    """(libespeak-ng path, espeak-ng-data path) from espeakng-loader, else the system library."""
    try:
        import espeakng_loader

        return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    except ImportError:
        for data in ("/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/share/espeak-ng-data",
                     "/usr/lib/aarch64-linux-gnu/espeak-ng-data"):
            if os.path.isdir(data):
                return "libespeak-ng.so.1", data
        raise RuntimeError("espeak-ng not found: pip install espeakng-loader (or apt-get install espeak-ng)")


class _Helper:
    def __init__(self, once: bool):
        lib, data = library_paths()
        cmd = [sys.executable, "-E", "-S", os.path.abspath(__file__), lib, data] + (["--once"] if once else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, close_fds=True)
        try:
            hello, _ = _read_msg(self.proc.stdout)
        except EOFError:
            err = self.proc.stderr.read().decode(errors="replace")
            raise RuntimeError(f"espeak helper failed to start: {err.strip()}") from None
        self.sample_rate = int(hello["sample_rate"])

    def request(self, req: EspeakRequest) -> EspeakResult:
        _write_msg(self.proc.stdin, asdict(req))
        header, payload = _read_msg(self.proc.stdout)
        if not header.get("ok"):
            raise RuntimeError(f"espeak-ng: {header.get('error')}")
        header.pop("ok")
        return EspeakResult(samples=payload,
                            phonemes=[tuple(p) for p in header["phonemes"]],
                            words=[tuple(w) for w in header["words"]],
                            sample_rate=header["sample_rate"], end_sample=header["end_sample"])

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()


_lock = threading.Lock()
_state: dict = {"pid": None, "zygote": None, "engine": None}


def _reset_after_fork() -> None:
    # A forked Python process (e.g. a corpus worker) must not share the parent's pipes or lock.
    global _lock
    _lock = threading.Lock()
    _state.update(pid=os.getpid(), zygote=None, engine=None)


def default_backend() -> str:
    return "zygote" if hasattr(os, "fork") else "spawn"


def run_espeak(req: EspeakRequest, backend: str | None = None) -> EspeakResult:
    """Synthesise one request. Thread-safe; one helper (or engine) per process, created lazily."""
    backend = backend or default_backend()
    if _state["pid"] != os.getpid():
        _reset_after_fork()
    with _lock:
        if backend == "zygote":
            if _state["zygote"] is None or _state["zygote"].proc.poll() is not None:
                _state["zygote"] = _Helper(once=False)
            try:
                return _state["zygote"].request(req)
            except (EOFError, BrokenPipeError):
                _state["zygote"] = None
                raise RuntimeError("the espeak helper process died; it is restarted on the next call")
        if backend == "spawn":
            helper = _Helper(once=True)
            try:
                return helper.request(req)
            finally:
                helper.close()
        if backend == "inprocess":
            if _state["engine"] is None:
                _state["engine"] = EspeakEngine(*library_paths())
            return _state["engine"].synth(req)
        raise ValueError(f"unknown espeak backend {backend!r}")


def shutdown() -> None:
    """Stop this process's helper (also done automatically at exit)."""
    if _state["pid"] == os.getpid() and _state["zygote"] is not None:
        _state["zygote"].close()
        _state["zygote"] = None


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], once="--once" in sys.argv[3:])
else:
    import atexit

    atexit.register(shutdown)
