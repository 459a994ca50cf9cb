"""The download path, exercised: the real loaders download from an HTTP server on 127.0.0.1.

The server (``http.server.ThreadingHTTPServer`` on a free port) serves files this module makes:
tiny IDX ``.gz`` files standing in for Fashion-MNIST's four (with checksums computed here, put in
place of the real ones), and tiny horse-or-human zips (the real archives declare no checksum).
The datasets are pointed at it through ``ZOO_DATA_ORIGIN`` (``URL/<folder>/<file>``) or the
``origin`` param (``URL/<file>``), as a user behind a mirror would. ``ZOO_OFFLINE`` is lifted only inside these tests, and a guard refuses any
URL whose host is not 127.0.0.1. Nothing real can be found locally: ``ZOO_HOME``, ``ZOO_DATA_DIR``
and ``KERAS_HOME`` are empty temporary folders and the system folders are patched away.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import os
import pty
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from zoo_plugins import data_sources, mnist_data

from zoo.cli import cli
from zoo.errors import DataError

NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz")
TIMEOUT = 1.0  # seconds: the download timeout the stalling-server tests use


# -- the server ---------------------------------------------------------------------------------------
class Mirror:
    """What the server serves (file name -> bytes, whatever the folder in the URL), how it
    misbehaves per file (``modes``), and every path asked for (``requests``)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}  # name -> "cut" | "stall" | "stall-body"
        self.requests: list[str] = []
        self.dead_prefix = "/nowhere/"  # a folder that answers 404 for everything
        self.release = threading.Event()  # set at shutdown: stalled handlers return at once


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  the http.server name
        mirror: Mirror = self.server.mirror  # type: ignore[attr-defined]
        mirror.requests.append(self.path)
        name = self.path.rsplit("/", 1)[-1]
        body = mirror.files.get(name)
        if body is None or self.path.startswith(mirror.dead_prefix):
            self.send_error(404)
            return
        mode = mirror.modes.get(name, "ok")
        if mode == "stall":  # accept the connection, then say nothing
            mirror.release.wait(10)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode in ("cut", "stall-body"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if mode == "stall-body":
                mirror.release.wait(10)
            self.close_connection = True  # the connection closes with half the promised bytes sent
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def server():
    """A threaded HTTP server on 127.0.0.1 (a free port), shut down by this fixture."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.mirror = Mirror()  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.mirror.release.set()  # type: ignore[attr-defined]
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def base_url(srv: http.server.ThreadingHTTPServer, folder: str = "mirror") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/{folder}"


@pytest.fixture
def online(server, monkeypatch, tmp_path, zoo_env):
    """Downloads allowed, to 127.0.0.1 only, through ZOO_DATA_ORIGIN; nothing real found locally."""
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    monkeypatch.setenv("ZOO_DATA_ORIGIN", base_url(server))
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))
    monkeypatch.setattr(data_sources, "SYSTEM_DIRS", [tmp_path / "no-system"])
    real_urlopen = urllib.request.urlopen

    def local_only(url, *args, **kwargs):
        host = urllib.parse.urlsplit(url if isinstance(url, str) else url.full_url).hostname
        assert host == "127.0.0.1", f"a test tried to reach {url}"
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)
    return server.mirror


# -- what it serves -----------------------------------------------------------------------------------
def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def serve_idx(mirror: Mirror, monkeypatch: pytest.MonkeyPatch, attr: str) -> dict[str, bytes]:
    """The four file names of ``mnist_data.<attr>`` served tiny (6 train, 4 test images), their
    checksums in place of the real ones; returns name -> served .gz bytes."""
    rng = np.random.default_rng(0)
    contents = {
        NAMES[0]: idx_bytes(rng.integers(0, 256, (6, 28, 28))), NAMES[1]: idx_bytes(np.arange(6) % 10),
        NAMES[2]: idx_bytes(rng.integers(0, 256, (4, 28, 28))), NAMES[3]: idx_bytes(np.arange(4)),
    }
    served = {name: gzip.compress(c, mtime=0) for name, c in contents.items()}
    real_set = getattr(mnist_data, attr)
    files = tuple(
        dataclasses.replace(real, md5=hashlib.md5(served[real.name]).hexdigest(), content_size=len(contents[real.name]),
                            content_sha256=hashlib.sha256(contents[real.name]).hexdigest(), content_md5=None)
        for real in real_set.files
    )
    assert [f.name for f in files] == list(NAMES)
    monkeypatch.setattr(mnist_data, attr, dataclasses.replace(real_set, files=files))
    mirror.files.update(served)
    return served


@pytest.fixture
def fashion(online, monkeypatch) -> dict[str, bytes]:
    """Fashion-MNIST, tiny, on the mirror."""
    return serve_idx(online, monkeypatch, "FASHION_MNIST")


def dataset(name: str):
    from zoo.registry import get_registry

    return get_registry().dataset(name)


def png(value: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.full((6, 6), value, np.uint8), "L").save(out, "PNG")
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def horses(online) -> Mirror:
    """horse-or-human's two official zips, tiny (2 + 2 and 1 + 1 images)."""
    online.files["horse-or-human.zip"] = zip_bytes({"horses/h0.png": png(10), "horses/h1.png": png(20),
                                                    "humans/p0.png": png(200), "humans/p1.png": png(220)})
    online.files["validation-horse-or-human.zip"] = zip_bytes({"horses/v0.png": png(30), "humans/w0.png": png(240)})
    return online


def cache(key: str) -> Path:
    return data_sources.cache_root() / key


def leftovers(folder: Path) -> list[str]:
    """Temporary files a download left behind (none may survive a failure)."""
    return sorted(p.name for p in folder.rglob("*.part")) if folder.exists() else []


# -- IDX files --------------------------------------------------------------------------------------
def test_good_download_is_verified_cached_and_not_fetched_again(fashion, online):
    spec = dataset("fashion_mnist")
    result = spec.fetch(**spec.params)
    # Really downloaded, from the mirror's sub-folder for the dataset (ZOO_DATA_ORIGIN/<folder>/<file>).
    assert sorted(online.requests) == sorted(f"/mirror/fashion-mnist/{n}" for n in NAMES)
    assert result["path"] == str(cache("fashion-mnist")) and sorted(result["files"]) == sorted(NAMES)
    for name, data in fashion.items():
        assert (cache("fashion-mnist") / name).read_bytes() == data
    assert leftovers(cache("fashion-mnist")) == []
    splits = spec.loader(**spec.params)
    assert splits["train"][0].shape == (6, 28, 28, 1) and splits["test"][1].tolist() == [0, 1, 2, 3]
    again = spec.fetch(**spec.params)
    assert again["origin"] == "already in the cache" and len(online.requests) == 4  # the server is not asked again


def test_the_origin_param_wins_over_the_environment(fashion, online, server, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_ORIGIN", base_url(server, "nowhere"))  # 404 for everything
    spec = dataset("fashion_mnist")
    with pytest.raises(DataError, match="HTTP 404"):
        spec.fetch(**spec.params)
    assert online.requests == [f"/nowhere/fashion-mnist/{NAMES[0]}"]
    spec.fetch(**{**spec.params, "origin": base_url(server, "param-mirror") + "/"})
    assert online.requests[1:] == [f"/param-mirror/{n}" for n in NAMES]


@pytest.mark.parametrize("damage", ["altered content", "flipped byte"])
def test_corrupted_bytes_are_refused_and_nothing_is_cached(fashion, online, server, damage):
    name = NAMES[1]
    good = fashion[name]
    if damage == "altered content":  # a valid gzip of other bytes: only the checksum can tell
        bad = gzip.compress(gzip.decompress(good)[:-1] + b"\x09", mtime=0)
    else:  # the gzip's own CRC fails
        bad = good[:20] + bytes([good[20] ^ 0xFF]) + good[21:]
    online.files[name] = bad
    spec = dataset("fashion_mnist")
    with pytest.raises(DataError) as err:
        spec.fetch(**spec.params)
    message = str(err.value)
    url = f"{base_url(server)}/fashion-mnist/{name}"
    assert f"download refused: the file downloaded from {url}" in message and "\n" not in message
    if damage == "altered content":
        expected = mnist_data.FASHION_MNIST.files[1].content_sha256
        assert f"sha256 of its content is {hashlib.sha256(gzip.decompress(bad)).hexdigest()}, expected {expected}" in message
    else:
        assert f"md5 {hashlib.md5(bad).hexdigest()}, expected {hashlib.md5(good).hexdigest()}" in message
    assert not (cache("fashion-mnist") / name).exists() and leftovers(cache("fashion-mnist")) == []
    online.files[name] = good  # the mirror is repaired: the next fetch succeeds
    spec.fetch(**spec.params)
    assert (cache("fashion-mnist") / name).read_bytes() == good


def test_a_cut_transfer_leaves_nothing_that_passes_and_the_next_fetch_succeeds(fashion, online, monkeypatch):
    name = NAMES[0]
    online.modes[name] = "cut"  # Content-Length N, then N/2 bytes and the connection closes
    spec = dataset("fashion_mnist")
    with pytest.raises(DataError, match=rf"{name} was cut off after {len(fashion[name]) // 2:,} of "
                                        rf"{len(fashion[name]):,} bytes"):
        spec.fetch(**spec.params)
    assert list(cache("fashion-mnist").iterdir()) == []  # no half file, under any name
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # later, offline: nothing there passes for the file
    with pytest.raises(DataError, match=f"{name}.* not found"):
        spec.loader(**spec.params)
    monkeypatch.delenv("ZOO_OFFLINE")
    del online.modes[name]  # the server is healthy again
    spec.fetch(**spec.params)
    assert online.requests.count(f"/mirror/fashion-mnist/{name}") == 2
    assert spec.loader(**spec.params)["train"][0].shape == (6, 28, 28, 1)


@pytest.mark.parametrize("mode", ["stall", "stall-body"])
def test_a_stalling_server_ends_in_a_clear_timeout_error(fashion, online, server, mode):
    online.modes[NAMES[0]] = mode  # before any header, or halfway through the body
    spec = dataset("fashion_mnist")
    started = time.monotonic()
    with pytest.raises(DataError) as err:
        spec.fetch(**{**spec.params, "download_timeout": TIMEOUT})
    assert time.monotonic() - started < TIMEOUT + 4
    message = str(err.value)
    assert f"downloading {base_url(server)}/fashion-mnist/{NAMES[0]} timed out" in message
    assert f"sent nothing for {TIMEOUT:g} s" in message and "\n" not in message
    assert list(cache("fashion-mnist").iterdir()) == []


@pytest.mark.parametrize("value", ["abc", 0, -1])
def test_a_bad_timeout_is_one_clear_error(fashion, online, value):
    result = CliRunner().invoke(cli, ["data", "fetch", "fashion_mnist", f"--set=download_timeout={value}"])
    assert result.exit_code != 0 and "download_timeout must be a positive number of seconds" in result.stderr
    assert "Traceback" not in result.output and online.requests == []


def test_downloads_are_refused_offline_even_with_a_mirror(fashion, online, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    spec = dataset("fashion_mnist")
    with pytest.raises(DataError, match="ZOO_OFFLINE=1 forbids downloading"):
        spec.fetch(**spec.params)
    assert online.requests == []


def test_a_partial_mirror_still_gives_mnist_its_complete_splits(online, monkeypatch):
    serve_idx(online, monkeypatch, "MNIST")
    del online.files[NAMES[0]]  # no train images on this mirror: 404
    spec = dataset("mnist")
    result = spec.fetch(**spec.params)
    assert result["missing"] == [NAMES[0]] and sorted(result["files"]) == sorted(NAMES[1:])
    assert sorted(online.requests) == sorted(f"/mirror/mnist/{n}" for n in NAMES)
    with pytest.warns(UserWarning, match="test split only"):
        splits = spec.loader(**spec.params)
    assert set(splits) == {"test"} and len(splits["test"][0]) == 4


# -- archives ---------------------------------------------------------------------------------------
def test_archive_with_a_parent_member_is_refused_and_nothing_is_written(horses, tmp_path):
    horses.files["horse-or-human.zip"] = zip_bytes({"horses/h0.png": png(10), "../../escaped.txt": b"owned"})
    spec = dataset("horse_or_human")
    with pytest.raises(DataError) as err:
        spec.fetch(**spec.params)
    message = str(err.value)
    assert "download refused" in message and "'../../escaped.txt' would be extracted outside" in message
    assert not list(tmp_path.rglob("escaped.txt"))
    root = cache("horse-or-human")
    assert not (root / "downloads" / "horse-or-human.zip").exists() and leftovers(root) == []
    assert not (root / "train").exists() and not (root / "validation").exists()


def test_archives_download_extract_and_load(horses):
    spec = dataset("horse_or_human")
    result = spec.fetch(**spec.params)
    root = cache("horse-or-human")
    assert result["origin"] == "downloaded" and result["path"] == str(root)
    assert sorted(p.name for p in (root / "train" / "humans").iterdir()) == ["p0.png", "p1.png"]
    assert len(horses.requests) == 2
    assert spec.fetch(**spec.params)["origin"] == "already in the cache" and len(horses.requests) == 2


def test_a_cut_archive_is_not_kept(horses):
    horses.modes["validation-horse-or-human.zip"] = "cut"
    spec = dataset("horse_or_human")
    with pytest.raises(DataError, match="validation-horse-or-human.zip was cut off"):
        spec.fetch(**spec.params)
    root = cache("horse-or-human")
    assert not (root / "train").exists()  # no copy with a split missing
    assert sorted(p.name for p in (root / "downloads").iterdir()) == ["horse-or-human.zip"]
    del horses.modes["validation-horse-or-human.zip"]
    assert spec.fetch(**spec.params)["origin"] == "downloaded"
    assert horses.requests.count("/mirror/horse-or-human/horse-or-human.zip") == 1  # the verified one was kept


# -- `zoo data fetch`: progress on a terminal only ------------------------------------------------------
def fetch_command(tmp_path: Path, server, stderr) -> subprocess.CompletedProcess:
    """``zoo data fetch horse_or_human`` in a fresh process: ZOO_DATA_ORIGIN a dead folder, the
    mirror given as ``--set dataset.origin=URL`` (the param wins)."""
    env = {k: v for k, v in os.environ.items() if k != "ZOO_OFFLINE"}
    env.update(ZOO_HOME=str(tmp_path / "home"), ZOO_DATA_DIR=str(tmp_path / "no-data"),
               KERAS_HOME=str(tmp_path / "no-keras"), ZOO_DATA_ORIGIN=base_url(server, "nowhere"))
    code = "import sys; from zoo.cli import main; main(sys.argv[1:])"
    args = ["data", "fetch", "horse_or_human", f"--set=dataset.origin={base_url(server)}"]
    return subprocess.run([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=stderr, env=env,
                          timeout=60, check=False)


def test_fetch_is_quiet_in_a_pipe(horses, server, tmp_path):
    out = subprocess.PIPE
    done = fetch_command(tmp_path, server, out)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert done.stdout.decode().startswith(f"horse_or_human: {tmp_path / 'home'}") and b"downloaded" in done.stdout
    assert sorted(horses.requests) == ["/mirror/horse-or-human.zip", "/mirror/validation-horse-or-human.zip"]


def test_fetch_shows_progress_on_a_terminal(horses, server, tmp_path):
    master, slave = pty.openpty()
    try:
        done = fetch_command(tmp_path, server, slave)
    finally:
        os.close(slave)
    shown = b""
    try:
        while chunk := os.read(master, 65536):
            shown += chunk
    except OSError:  # EIO: the terminal's other end is closed and everything was read
        pass
    finally:
        os.close(master)
    assert done.returncode == 0, shown
    text = shown.decode()
    size = len(horses.files["horse-or-human.zip"])
    assert f"horse-or-human.zip: {size} B / {size} B  100%" in text and "validation-horse-or-human.zip" in text
    assert b"downloaded" in done.stdout and b"%" not in done.stdout  # progress never on stdout


def test_fetch_in_process_prints_no_progress(horses):
    result = CliRunner().invoke(cli, ["data", "fetch", "horse_or_human"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and "horse_or_human:" in result.stdout
