"""The legacy PyTorch .pth reader: round trips, the real file, and refusal of anything unsafe."""
from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo_plugins import torch_legacy
from zoo_plugins.torch_legacy import LegacyPthError


def test_round_trip_keeps_values_shapes_and_dtypes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    state = {
        "conv.weight": rng.standard_normal((8, 3, 3, 3)).astype("float32"),
        "fc.weight": rng.standard_normal((5, 4)).astype("float32").T,  # a non-contiguous view
        "bn.num_batches_tracked": np.array(7, dtype="int64"),
        "double": np.arange(6, dtype="float64").reshape(2, 3),
    }
    path = tmp_path / "w.pth"
    torch_legacy.save(state, path)
    loaded = torch_legacy.load(path)
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].shape == value.shape and loaded[key].dtype == value.dtype, key
        np.testing.assert_array_equal(loaded[key], value)


def test_tensors_sharing_one_storage_with_offsets_and_strides(tmp_path: Path) -> None:
    # What torch writes for views: one storage, tensors at offsets with their own strides.
    data = np.arange(12, dtype="<f4")
    storage = torch_legacy._StorageRef(("storage", torch_legacy._GlobalRef("torch", "FloatStorage"), "0", "cpu", 12))
    rebuild = torch_legacy._GlobalRef("torch._utils", "_rebuild_tensor_v2")
    body = {"a": torch_legacy._Reduce(rebuild, (storage, 0, (3, 4), (4, 1), False, {})),
            "t": torch_legacy._Reduce(rebuild, (storage, 0, (4, 3), (1, 4), False, {})),
            "tail": torch_legacy._Reduce(rebuild, (storage, 8, (4,), (1,), False, {}))}
    buf = io.BytesIO()
    for part in (torch_legacy.MAGIC_NUMBER, torch_legacy.PROTOCOL_VERSION, {"little_endian": True}):
        pickle.dump(part, buf, protocol=2)
    torch_legacy._Pickler(buf, protocol=2).dump(body)
    pickle.dump(["0"], buf, protocol=2)
    buf.write(struct.pack("<q", 12) + data.tobytes())
    (tmp_path / "v.pth").write_bytes(buf.getvalue())
    loaded = torch_legacy.load(tmp_path / "v.pth")
    np.testing.assert_array_equal(loaded["a"], data.reshape(3, 4))
    np.testing.assert_array_equal(loaded["t"], data.reshape(3, 4).T)
    np.testing.assert_array_equal(loaded["tail"], data[8:])


def test_refuses_any_other_global(tmp_path: Path) -> None:
    buf = io.BytesIO()
    for part in (torch_legacy.MAGIC_NUMBER, torch_legacy.PROTOCOL_VERSION, {"little_endian": True}):
        pickle.dump(part, buf, protocol=2)
    # A pickle that would call os.system("...") if the unpickler resolved the global.
    buf.write(b"cos\nsystem\n(S'echo owned'\ntR.")
    (tmp_path / "evil.pth").write_bytes(buf.getvalue())
    with pytest.raises(LegacyPthError, match="refusing to load global os.system"):
        torch_legacy.load(tmp_path / "evil.pth")


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04rest-of-a-zip", "zip-format"),
    (pickle.dumps(12345, protocol=2), "bad magic number"),
    (b"", "unreadable"),
])
def test_rejects_other_formats(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "x.pth").write_bytes(content)
    with pytest.raises(LegacyPthError, match=message):
        torch_legacy.load(tmp_path / "x.pth")


def test_truncated_storage_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch_legacy.save({"w": np.ones((4, 4), dtype="float32")}, path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(LegacyPthError, match="ends inside storage"):
        torch_legacy.load(path)


def test_real_package_file_reads_as_efficientnet_lite0_state_dict() -> None:
    from zoo_plugins import lite0

    pth = lite0.package_pth()
    if pth is None:
        from conftest import missing

        missing(f"optional package {lite0.PACKAGE} not installed (pip install 'zoo-models[lite0]')")
    state = torch_legacy.load(pth)
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    # Every tensor but the BatchNorm step counters maps onto a Keras variable, and vice versa.
    weights = {k for k in state if not k.endswith("num_batches_tracked")}
    assert weights == set(lite0.weight_map())
    assert all(np.isfinite(state[k]).all() for k in weights)


def test_modules_import_without_tensorflow_keras_numpy() -> None:
    code = ("import sys, zoo_plugins.lite0, zoo_plugins.torch_legacy; "
            "bad = [m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
