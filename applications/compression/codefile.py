"""The code file of kerazoo-compress: learned codes quantised to a few bits and packed, with a header that
names the decoder able to read them.

A code file (``.kzc``, format version 1, little-endian) is

    b"KZC" + one byte format version
    uint32 length of the header, then the header: UTF-8 JSON with "model" (a hash of the
        decoder's weights), "bits", "latent_dim", "count" and "image_shape"
    float32 offset[latent_dim], then float32 scale[latent_dim]
    the codes: count x latent_dim levels of `bits` bits each, packed big-endian bit by bit,
        level = round((code - offset) / scale), code ~= offset + scale * level
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

from applications.kit import errors

MAGIC, FORMAT_VERSION = b"KZC", 1


def code_ranges(codes: np.ndarray, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per latent dimension: ``offset`` (the minimum) and ``scale`` (the range / (2**bits - 1))."""
    offset = codes.min(axis=0).astype("float32")
    scale = ((codes.max(axis=0) - offset) / (2 ** bits - 1)).astype("float32")
    return offset, np.where(scale > 0, scale, np.float32(1.0))


def quantise(codes, offset, scale, bits) -> np.ndarray:
    return np.clip(np.round((codes - offset) / scale), 0, 2 ** bits - 1).astype(np.uint32)


def dequantise(levels, offset, scale) -> np.ndarray:
    return (offset + scale * levels.astype("float32")).astype("float32")


def pack(levels: np.ndarray, bits: int) -> bytes:
    """Unsigned levels < 2**bits -> bytes, ``bits`` bits each, most significant bit first."""
    planes = (levels.reshape(-1, 1) >> np.arange(bits - 1, -1, -1, dtype=np.uint32)) & 1
    return np.packbits(planes.astype(np.uint8).ravel()).tobytes()


def unpack(payload: bytes, count: int, bits: int) -> np.ndarray:
    planes = np.unpackbits(np.frombuffer(payload, np.uint8))[:count * bits].reshape(count, bits)
    return (planes.astype(np.uint32) << np.arange(bits - 1, -1, -1, dtype=np.uint32)).sum(axis=1).astype(np.uint32)


def encode_file(codes: np.ndarray, *, bits: int, image_shape, model: str) -> bytes:
    """Float codes ``[N, latent_dim]`` -> the bytes of a ``.kzc`` code file (see the module docstring)."""
    offset, scale = code_ranges(codes, bits)
    header = json.dumps({"model": model, "bits": bits, "latent_dim": int(codes.shape[1]), "count": len(codes),
                         "image_shape": [int(d) for d in image_shape]}, separators=(",", ":")).encode()
    return (MAGIC + bytes([FORMAT_VERSION]) + struct.pack("<I", len(header)) + header
            + offset.astype("<f4").tobytes() + scale.astype("<f4").tobytes()
            + pack(quantise(codes, offset, scale, bits), bits))


def decode_file(blob: bytes, *, model: str | None = None, name="the code file") -> tuple[np.ndarray, dict]:
    """The bytes of a code file -> (float codes ``[N, latent_dim]``, header); checks it whole."""
    if blob[:3] != MAGIC:
        raise errors.DataError(f"{name} is not a kerazoo code file (no KZC signature); give a file written by "
                             "kerazoo-compress encode")
    if len(blob) < 8 or blob[3] != FORMAT_VERSION:
        raise errors.DataError(f"{name} has format version {blob[3] if len(blob) > 3 else '?'}; this version reads "
                             f"{FORMAT_VERSION}: re-encode the images")
    (length,) = struct.unpack("<I", blob[4:8])
    try:
        header = json.loads(blob[8:8 + length])
        count, latent, depth = int(header["count"]), int(header["latent_dim"]), int(header["bits"])
    except (ValueError, KeyError, TypeError):
        raise errors.DataError(f"{name} is corrupt (its header cannot be read); re-encode the images") from None
    if model is not None and header.get("model") != model:
        raise errors.DataError(f"{name} was encoded by another model (decoder {header.get('model')}, this one is "
                             f"{model}); decode it with the model that encoded it")
    body = blob[8 + length:]
    expected = 8 * latent + math.ceil(count * latent * depth / 8)
    if len(body) != expected or not 1 <= depth <= 16:
        raise errors.DataError(f"{name} is truncated or corrupt: {count} codes of {latent} x {depth} bits need "
                             f"{expected} bytes after the header, it has {len(body)}; re-encode the images")
    offset = np.frombuffer(body, "<f4", latent).astype("float32")
    scale = np.frombuffer(body, "<f4", latent, offset=4 * latent).astype("float32")
    payload = body[8 * latent:]
    levels = unpack(payload, count * latent, depth).reshape(count, latent)
    return dequantise(levels, offset, scale), header
