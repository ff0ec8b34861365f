"""A small client for ``trutheye serve`` (protocol version 1).

Standard library only. One client holds one connection; it is not thread-safe
(use one client per thread, the server serves connections in parallel).

    >>> c = TruthEyeClient("/tmp/trutheye.sock")          # or TruthEyeClient(tcp="127.0.0.1:7461")
    >>> sid = c.open("photo.jpg", strategy="pvr")["session"]
    >>> turn = c.execute(sid, "<code>print(image.size)</code>")
    >>> turn["observation"]["text"], turn["final"]
"""

import base64
import itertools
import json
import os
import socket

PROTOCOL_VERSION = 1


class TruthEyeError(RuntimeError):
    """An error response from the server (``code`` is machine-readable)."""

    def __init__(self, code, message, method=None):
        super().__init__(f"trutheye serve: {method or 'request'} failed [{code}]: {message}")
        self.code = code
        self.message = message
        self.method = method


class TruthEyeClient:
    """Connects to a Unix socket path, or to ``tcp="host:port"``."""

    def __init__(self, socket_path=None, tcp=None, timeout=120.0):
        if (socket_path is None) == (tcp is None):
            raise ValueError("give exactly one of socket_path or tcp")
        if socket_path is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.settimeout(timeout)
            self._sock.connect(os.fspath(socket_path))
        else:
            host, _, port = tcp.rpartition(":")
            self._sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self._sock.makefile("rwb")
        self._ids = itertools.count(1)

    @classmethod
    def from_env(cls, default_socket="/tmp/trutheye.sock"):
        """``TRUTHEYE_TCP`` (host:port) if set, else ``TRUTHEYE_SOCKET`` or ``default_socket``."""
        tcp = os.environ.get("TRUTHEYE_TCP")
        if tcp:
            return cls(tcp=tcp)
        return cls(os.environ.get("TRUTHEYE_SOCKET", default_socket))

    def close_connection(self):
        try:
            self._file.close()
        finally:
            self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_connection()

    def raw(self, line: bytes) -> dict:
        """Sends one raw line (tests use it for malformed requests); returns the parsed response."""
        self._file.write(line.rstrip(b"\n") + b"\n")
        self._file.flush()
        reply = self._file.readline()
        if not reply:
            raise ConnectionError("trutheye serve closed the connection")
        return json.loads(reply)

    def call(self, method, **params):
        """Sends a request and returns its ``result``; raises :class:`TruthEyeError` on an error response."""
        rid = next(self._ids)
        req = {"v": PROTOCOL_VERSION, "id": rid, "method": method, "params": params}
        resp = self.raw(json.dumps(req).encode())
        if resp.get("id") != rid:
            raise ConnectionError(f"response id {resp.get('id')!r} does not match request id {rid}")
        if "error" in resp:
            err = resp["error"] or {}
            raise TruthEyeError(err.get("code", "unknown"), err.get("message", ""), method)
        return resp["result"]

    # --- methods -----------------------------------------------------------------
    def hello(self):
        return self.call("hello")

    def open(self, image, strategy="pvr", images=None, episode_id=None, images_by=None):
        """``image``: a path, PNG/JPEG bytes, or base64 text. ``images_by``: how observation
        images come back (``auto``: inline unless large, ``inline``, ``path``; read them
        with :func:`observation_png`). Returns the session description."""
        params = {"strategy": strategy}
        if images_by is not None:
            params["images_by"] = images_by
        if images is not None:
            params["images"] = [encode_image(i) for i in images]
        else:
            params["image"] = encode_image(image)
        if episode_id is not None:
            params["id"] = str(episode_id)
        return self.call("open", **params)

    def execute(self, session, text):
        return self.call("execute", session=session, text=text)

    def close(self, session):
        return self.call("close", session=session)

    def reward(self, truth, session=None, trajectory=None, replay=None, weights=None, kind="forenagent"):
        """Scores a session, a recorded trajectory (dict), or ``replay={"image", "strategy", "turns"}``."""
        params = {"truth": truth, "kind": kind}
        for key, value in (("session", session), ("trajectory", trajectory), ("replay", replay), ("weights", weights)):
            if value is not None:
                params[key] = value
        if "replay" in params:
            r = dict(params["replay"])
            if "image" in r:
                r["image"] = encode_image(r["image"])
            params["replay"] = r
        return self.call("reward", **params)

    def stats(self):
        return self.call("stats")

    def shutdown(self):
        return self.call("shutdown")


def encode_image(image):
    """A path (made absolute) or a base64/data-URL string is sent as text; bytes are base64-encoded."""
    if isinstance(image, (bytes, bytearray)):
        return base64.b64encode(bytes(image)).decode("ascii")
    if isinstance(image, os.PathLike):
        image = os.fspath(image)
    if isinstance(image, str):
        # Paths are resolved here: the server may run in another directory.
        return os.path.abspath(image) if len(image) < 4096 and os.path.isfile(image) else image
    raise TypeError(f"unsupported image type {type(image).__name__}: give a path, bytes or base64 text")


def decode_png(b64: str) -> bytes:
    """The PNG bytes of an observation image (``observation["images"][k]["png_base64"]``)."""
    return base64.b64decode(b64)


def observation_png(entry: dict) -> bytes:
    """The PNG bytes of an observation image entry, sent inline (``png_base64``) or,
    when large, by ``path`` (a file in the session's directory on the server's
    machine, deleted when the session closes: read it before closing)."""
    if "png_base64" in entry:
        return base64.b64decode(entry["png_base64"])
    with open(entry["path"], "rb") as f:
        return f.read()
