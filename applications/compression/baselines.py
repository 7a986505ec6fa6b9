"""What the learned codec is compared with: PCA codes stored the same way, JPEG (Pillow), and the quality
measures (MSE, PSNR, SSIM) on uint8 images.
"""

from __future__ import annotations

import io
import math

import numpy as np

from applications.compression.codefile import decode_file, encode_file

JPEG_QUALITIES = (1, 5, 10, 20, 30, 50, 75, 90)
PCA_COMPONENTS = (4, 8, 16, 32, 64)


def scaled(x: np.ndarray) -> np.ndarray:
    return x.astype("float32") / 255


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x, "float32") * 255), 0, 255).astype(np.uint8)


def mse(a, b) -> float:
    return float(np.mean((scaled(a) - scaled(b)) ** 2))


def psnr(error: float) -> float:
    """Peak signal-to-noise ratio in dB for pixels in [0, 1]."""
    return float(10 * np.log10(1 / max(error, 1e-12)))


def ssim(a, b) -> float:
    """Mean SSIM of uint8 image pairs (``tf.image.ssim``; the window shrinks to fit small images)."""
    import tensorflow as tf

    size = min(11, a.shape[1], a.shape[2])
    size -= 1 - size % 2  # odd
    return float(tf.reduce_mean(tf.image.ssim(tf.constant(scaled(a)), tf.constant(scaled(b)), max_val=1.0,
                                              filter_size=size)))


def scores(original, decoded, bytes_per_image) -> dict:
    error = mse(original, decoded)
    raw = math.prod(original.shape[1:])
    return {"bytes_per_image": float(bytes_per_image), "compression_ratio": raw / bytes_per_image,
            "mse": error, "psnr": psnr(error), "ssim": ssim(original, decoded)}


def pca_round_trip(x_train, x, components, bits) -> tuple[np.ndarray, float]:
    """scikit-learn PCA fitted on ``x_train``, its codes quantised and stored like the autoencoder's."""
    from sklearn.decomposition import PCA

    flat = lambda images: scaled(images).reshape(len(images), -1)  # noqa: E731
    pca = PCA(components, random_state=0).fit(flat(x_train))
    blob = encode_file(pca.transform(flat(x)).astype("float32"), bits=bits, image_shape=x.shape[1:], model="pca")
    codes, _ = decode_file(blob)
    return to_uint8(pca.inverse_transform(codes).reshape(x.shape)), len(blob) / len(x)


def jpeg_round_trip(x, quality) -> tuple[np.ndarray, float]:
    """Each image saved as a JPEG file of ``quality`` with Pillow and read back: (images, mean file bytes)."""
    from PIL import Image

    decoded, sizes = [], []
    for image in x:
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "JPEG", quality=quality)
        sizes.append(buffer.tell())
        buffer.seek(0)
        decoded.append(np.asarray(Image.open(buffer)).reshape(image.shape))
    return np.stack(decoded), float(np.mean(sizes))


def closest_jpeg_quality(x, target_bytes) -> int:
    """The JPEG quality (1-95) whose mean file size is closest to ``target_bytes`` (bisection on a sample)."""
    sample = x[:200]
    size = lambda q: jpeg_round_trip(sample, q)[1]  # noqa: E731  (grows with quality)
    low, high = 1, 95
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if size(middle) < target_bytes else (low, middle)
    return min((low, high), key=lambda q: abs(size(q) - target_bytes))


def rate_distortion(x_train, x_test, bits, components=PCA_COMPONENTS, qualities=JPEG_QUALITIES) -> dict:
    """(bytes per image, MSE) points of PCA at several sizes and JPEG at several qualities."""
    pixels = math.prod(x_test.shape[1:])
    pca = [pca_round_trip(x_train, x_test, k, bits) for k in components if k < min(pixels, len(x_train))]
    jpeg = [jpeg_round_trip(x_test, q) for q in qualities]
    return {f"PCA ({bits}-bit codes)": [(size, mse(x_test, decoded)) for decoded, size in pca],
            "JPEG (Pillow)": [(size, mse(x_test, decoded)) for decoded, size in jpeg]}
