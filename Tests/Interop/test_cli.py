"""quantctl inspect on malformed files: exit status 1 and one line naming the failed check."""
import struct

import pytest

from conftest import quantctl


def st(header: bytes, data: bytes = b"", declared=None):
    return struct.pack("<Q", len(header) if declared is None else declared) + header + data


F32 = b'"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
CASES = {
    "fileTooSmall": b"\x01\x00",
    "headerTooLarge": st(b"{}", declared=1 << 40),
    "headerOutOfBounds": st(b"{}", declared=64),
    "invalidUTF8": st(b'{"\xff":1}'),
    "invalidJSON": st(b'{"a":'),
    "duplicateKey": st(b"{" + F32 + b"," + F32 + b"}", b"\0" * 8),
    "unknownDType": st(b'{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}', b"\0" * 8),
    "invalidMetadata": st(b'{"__metadata__":{"k":1}}'),
    "invalidOffsets": st(b'{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}', b"\0" * 8),
    "sizeMismatch": st(b'{"a":{"dtype":"F32","shape":[4398046511105,1],"data_offsets":[0,8]}}', b"\0" * 8),
    "sizeOverflow": st(b'{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}', b"\0" * 8),
    "trailingBytes": st(b"{" + F32 + b"}", b"\0" * 9),
    "dataOutOfBounds": st(b"{" + F32 + b"}", b"\0" * 4),
    "badMagic": b"GGUX" + b"\0" * 40,
    "unsupportedVersion": b"GGUF" + struct.pack("<IQQ", 1, 0, 0),
    "truncated": b"GGUF" + struct.pack("<IQQ", 3, 1, 1),
}


@pytest.mark.parametrize("code", list(CASES))
def test_malformed_file_exits_1_with_specific_message(code, tmp):
    path = tmp / ("bad.gguf" if code == "badMagic" else "bad.bin")
    path.write_bytes(CASES[code])
    result = quantctl("inspect", path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and f"{code}:" in lines[0], lines[0]
    assert result.stdout == ""


def test_missing_file_exits_1(tmp):
    result = quantctl("inspect", tmp / "nope.safetensors")
    assert result.returncode == 1 and "No such file" in result.stderr


def test_help_text():
    result = quantctl("--help")
    assert result.returncode == 0 and "inspect" in result.stdout
