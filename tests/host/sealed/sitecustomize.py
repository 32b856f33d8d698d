"""Network audit for a ComfyUI server started by tests/host/test_reliability.py.

Python imports `sitecustomize` at start-up from PYTHONPATH, so this runs before ComfyUI and the
pack. It installs an audit hook (PEP 578) that refuses every connection, datagram and name lookup
for a host other than this machine, and writes who tried (event, host, Python stack) to the file
named by $STS_NETWORK_AUDIT_LOG. Each process also logs an "armed" line proving the hook is live:
a lookup of a public name made here, right after installing it, was refused.

Limit: audit hooks see Python-level socket use (urllib, requests, aiohttp, huggingface_hub, ...);
a native library calling libc's connect() directly would not be seen.
"""

import json
import os
import socket
import sys
import traceback

_LOG = os.environ.get("STS_NETWORK_AUDIT_LOG")
_SELF_TEST = [False]
_LOCAL = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::", ""}
_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyname_ex", "socket.gethostbyaddr"}


def _host(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        return str(address[0]) if isinstance(address, tuple) and address else None  # AF_UNIX paths are local
    host = args[0] if args else None
    return host.decode(errors="replace") if isinstance(host, bytes) else host


def _write(record):
    with open(_LOG, "a") as f:
        f.write(json.dumps(record) + "\n")


def _hook(event, args):
    if event not in _EVENTS:
        return
    host = _host(event, args)
    if host is None or host in _LOCAL or str(host).startswith("127."):
        return
    stack = [f"{fr.filename}:{fr.lineno} {fr.name}" for fr in traceback.extract_stack()[:-1]][-20:]
    _write({"event": event, "host": str(host), "pid": os.getpid(), "self_test": _SELF_TEST[0], "stack": stack})
    raise OSError(f"network access is disabled in this test server ({event} {host})")


if _LOG:
    sys.addaudithook(_hook)
    _SELF_TEST[0] = True
    try:
        socket.getaddrinfo("example.com", 443)
        outcome = "NOT blocked"
    except OSError as e:
        outcome = "blocked" if "disabled in this test server" in str(e) else f"other error: {e}"
    _SELF_TEST[0] = False
    _write({"event": "armed", "pid": os.getpid(), "argv": sys.argv[:2], "outcome": outcome})
