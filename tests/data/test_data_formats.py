from __future__ import annotations

import gzip
import hashlib
import io
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from untaught.data import DatasetCorruptError, amat, get_info, idx, load_split
from untaught.data.amat import parse_amat, read_amat
from untaught.data.cifar import RECORD_BYTES, parse_cifar_batch, read_cifar_tar
from untaught.data.idx import parse_idx, read_idx

# --- IDX -------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_idx_reads_back_a_gzipped_image_file_exactly(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    data = idx_bytes(images, 0x08)
    assert data[:4] == b"\x00\x00\x08\x03"  # the MNIST image magic 2051
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(data))
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
    np.testing.assert_array_equal(out, images)
    out[0, 0, 0] = 7  # writable copy
    assert read_idx(path, sha256=hashlib.sha256(data).hexdigest()).shape == (5, 28, 28)


def test_idx_reads_uncompressed_labels_and_multibyte_types(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    (tmp_path / "labels").write_bytes(idx_bytes(labels, 0x08))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)
    ints = np.array([[-2, 70000], [1, 0]], dtype=np.int32)
    out = parse_idx(idx_bytes(ints, 0x0C))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, ints)


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4), 0x08)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"\x00\x00", "header needs 4 bytes; got 2"),
        (b"\x01" + GOOD[1:], "magic number must start with 00 00; got 01000802"),
        (GOOD[:2] + b"\x07" + GOOD[3:], "type code must be one of .*; got 0x07"),
        (GOOD[:3] + b"\x00", "number of dims must be >= 1"),
        (GOOD[:9], "truncated IDX header"),
        (GOOD[:-1], "truncated: IDX dims \\(3, 4\\) of uint8 need 24 bytes; got 23"),
        (GOOD + b"\x00", "trailing bytes"),
    ],
)
def test_idx_corrupt_files_raise_clear_errors(tmp_path, data, pattern):
    path = tmp_path / "bad-idx"
    path.write_bytes(data)
    with pytest.raises(DatasetCorruptError, match=pattern) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_idx_truncated_gzip_and_wrong_payload_hash(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-10])
    with pytest.raises(DatasetCorruptError, match="truncated or corrupt") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    path.write_bytes(gzip.compress(GOOD))
    with pytest.raises(DatasetCorruptError, match=f"expected {'0' * 64}"):
        read_idx(path, sha256="0" * 64)


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist not installed")
def test_fashion_mnist_loads_from_the_debian_package(tmp_path):
    assert idx.DEBIAN_FASHION_DIR == FASHION
    info = get_info("fashion-mnist")
    assert info.offline(str(tmp_path))
    for split in ("test", "val"):
        data = load_split("fashion-mnist", split, root=str(tmp_path))
        assert tuple(data.x.shape) == (info.sizes[split], 1, 28, 28)
        assert data.levels == 256 and data.x.dtype == torch.uint8
        assert set(data.y.unique().tolist()) == set(range(10))
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded or cached


def test_fashion_mnist_is_offline_only_when_a_source_is_present(monkeypatch, tmp_path):
    monkeypatch.setattr(idx, "DEBIAN_FASHION_DIR", tmp_path / "nowhere")
    assert not get_info("fashion-mnist").offline(str(tmp_path))
    for name in idx.FASHION_MD5:
        (tmp_path / "fashion-mnist").mkdir(exist_ok=True)
        (tmp_path / "fashion-mnist" / name).write_bytes(b"")
    assert get_info("fashion-mnist").offline(str(tmp_path))


# --- .amat -----------------------------------------------------------------------------------


def amat_bytes(rows: np.ndarray, sep: str = " ", end: str = "\n") -> bytes:
    return "".join(sep.join(map(str, r)) + end for r in rows).encode()


ROWS = np.random.default_rng(1).integers(0, 2, (3, 784), dtype=np.uint8)


@pytest.mark.parametrize(
    "data",
    [
        amat_bytes(ROWS),  # canonical layout (fast path)
        amat_bytes(ROWS, end="\r\n"),
        amat_bytes(ROWS, sep="  ") + b"\n\n",
        amat_bytes(ROWS)[:-1],  # no final newline
    ],
)
def test_amat_reads_back_exactly(tmp_path, data):
    path = tmp_path / "tiny.amat"
    path.write_bytes(data)
    out = read_amat(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, ROWS)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (amat_bytes(ROWS)[:-3] + b"\n", "line 3 has 783 values; expected 784"),
        (amat_bytes(ROWS).replace(b"1", b"2", 1), "line 1 holds '2'; expected only 0 or 1"),
        (b"0 1\n" + amat_bytes(ROWS), "line 1 has 2 values"),
        (amat_bytes(ROWS[:1]) + b"\n" + amat_bytes(ROWS[1:]), "line 2 has 0 values"),
    ],
)
def test_amat_malformed_files_raise_clear_errors(tmp_path, data, pattern):
    path = tmp_path / "bad.amat"
    path.write_bytes(data)
    with pytest.raises(DatasetCorruptError, match=pattern) as info:
        read_amat(path)
    assert str(path) in str(info.value)


def test_parse_amat_with_a_small_width():
    np.testing.assert_array_equal(parse_amat(b"0 1 1\n1 0 0\n", width=3), [[0, 1, 1], [1, 0, 0]])


def test_binarized_mnist_loads_verified_cached_files(monkeypatch, tmp_path):
    sizes = {"train": 3, "val": 2, "test": 1}
    folder = tmp_path / "binarized-mnist"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for split, (filename, _) in list(amat.BINARIZED_MNIST_FILES.items()):
        data = amat_bytes(rng.integers(0, 2, (sizes[split], 784)))
        (folder / filename).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        monkeypatch.setitem(amat.BINARIZED_MNIST_FILES, split, (filename, digest))
        monkeypatch.setitem(amat._SIZES, split, sizes[split])
    assert get_info("binarized-mnist").offline(str(tmp_path))
    for split, n in sizes.items():
        data = load_split("binarized-mnist", split, root=str(tmp_path))
        assert tuple(data.x.shape) == (n, 1, 28, 28) and data.levels == 2
        assert data.y.tolist() == [-1] * n and int(data.x.max()) <= 1


# --- CIFAR-10 binary --------------------------------------------------------------------------


def cifar_records(labels: list[int], seed: int) -> tuple[bytes, np.ndarray]:
    pixels = np.random.default_rng(seed).integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    records = np.concatenate([np.array(labels, np.uint8)[:, None], pixels], axis=1)
    return records.tobytes(), pixels.reshape(-1, 3, 32, 32)


def write_tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def test_cifar_reads_records_from_the_tar_without_extracting(tmp_path):
    members, expected = {"cifar-10-batches-bin/batches.meta.txt": b"airplane\n"}, {}
    for i, name in enumerate(BATCHES):
        labels = [i, 9 - i]
        data, pixels = cifar_records(labels, seed=i)
        members[f"cifar-10-batches-bin/{name}"] = data
        expected[name] = (pixels, labels)
    path = tmp_path / "cifar-10-binary.tar.gz"
    write_tar(path, members)
    out = read_cifar_tar(path)
    assert list(out) == BATCHES
    for name, (x, y) in out.items():
        assert x.dtype == np.uint8 and x.shape == (2, 3, 32, 32)
        np.testing.assert_array_equal(x, expected[name][0])
        assert y.tolist() == expected[name][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-binary.tar.gz"]


def test_cifar_record_layout_is_label_then_chw():
    record = bytes([7]) + bytes([0] * 1024 + [1] * 1024 + [2] * 1024)
    x, y = parse_cifar_batch(record)
    assert y.tolist() == [7]
    assert [int(x[0, c].min()) for c in range(3)] == [0, 1, 2]
    assert [int(x[0, c].max()) for c in range(3)] == [0, 1, 2]


def test_cifar_corrupt_inputs_raise_clear_errors(tmp_path):
    data, _ = cifar_records([1, 2], seed=0)
    with pytest.raises(DatasetCorruptError, match=f"{RECORD_BYTES}-byte records.*got 6145"):
        parse_cifar_batch(data[:-1], "batch")
    with pytest.raises(DatasetCorruptError, match=r"record 1 has label 12; expected 0..9"):
        parse_cifar_batch(data[:RECORD_BYTES] + bytes([12]) + data[RECORD_BYTES + 1 :], "b")
    path = tmp_path / "short.tar.gz"
    write_tar(path, {"cifar-10-batches-bin/test_batch.bin": data[:-5]})
    with pytest.raises(DatasetCorruptError, match=r"test_batch.bin: expected a whole number"):
        read_cifar_tar(path, ("test_batch.bin",))
    with pytest.raises(DatasetCorruptError, match=r"lacks the member.*data_batch_1.bin"):
        read_cifar_tar(path, ("data_batch_1.bin",))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetCorruptError, match="truncated or corrupt") as info:
        read_cifar_tar(path, ("test_batch.bin",))
    assert str(path) in str(info.value)
