"""The kit's image sources (kit.images): folders of PNG/JPEG read with Pillow, NPZ without labels, resizing,
and the one-line errors for bad folders."""

import numpy as np
import pytest
from PIL import Image

from applications.kit.errors import DataError
from applications.kit.images import load_embedded, load_image_folder, load_images, resize_images


def save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


@pytest.fixture
def digits_folder(tmp_path):
    """The first 30 embedded digits as grey PNGs in class subfolders."""
    embedded = load_embedded()
    for i, (image, label) in enumerate(zip(embedded.x[:30], embedded.y[:30])):
        save(tmp_path / "digits" / f"class_{label}" / f"{i:03d}.png", image)
    return tmp_path / "digits", embedded.x[:30], embedded.y[:30]


def test_grey_folder_with_class_subfolders_round_trips_pixels_and_labels(digits_folder):
    folder, x, y = digits_folder
    dataset = load_image_folder(folder)
    assert dataset.x.shape == (30, 8, 8, 1) and dataset.x.dtype == np.uint8
    assert dataset.labels == [f"class_{d}" for d in range(10)]
    # Files are read in sorted path order: class_0/..., class_1/...
    order = sorted(range(30), key=lambda i: (f"class_{y[i]}", i))
    np.testing.assert_array_equal(dataset.x[..., 0], x[order])
    np.testing.assert_array_equal(dataset.y, y[order])


def test_colour_images_stay_colour_and_grey_rgb_becomes_grey(tmp_path):
    rng = np.random.default_rng(0)
    save(tmp_path / "colour" / "a.png", rng.integers(0, 256, (6, 4, 3), dtype=np.uint8))
    save(tmp_path / "colour" / "b.jpg", rng.integers(0, 256, (6, 4, 3), dtype=np.uint8))
    colour = load_image_folder(tmp_path / "colour")
    assert colour.x.shape == (2, 6, 4, 3) and colour.y is None
    grey = rng.integers(0, 256, (5, 5), dtype=np.uint8)
    save(tmp_path / "grey" / "a.png", np.repeat(grey[..., None], 3, axis=-1))
    np.testing.assert_array_equal(load_image_folder(tmp_path / "grey").x[0, ..., 0], grey)


def test_mixed_sizes_need_resize_and_resize_makes_them_one_size(tmp_path):
    save(tmp_path / "mixed" / "a.png", np.zeros((8, 8), np.uint8))
    save(tmp_path / "mixed" / "b.png", np.full((12, 10), 255, np.uint8))
    with pytest.raises(DataError, match=r"mixed sizes \(a.png is 8x8, b.png is 12x10\).*--resize"):
        load_image_folder(tmp_path / "mixed")
    x = load_images(str(tmp_path / "mixed"), resize=(16, 16)).x
    assert x.shape == (2, 16, 16, 1) and x[0].max() == 0 and x[1].min() == 255


@pytest.mark.parametrize("bad_file, content, fragments", [
    (None, None, ["empty folder"]),
    ("notes.txt", b"hi", ["notes.txt is not a PNG or JPEG", "remove it"]),
    ("broken.png", b"\x89PNG nonsense", ["cannot read broken.png"]),
])
def test_bad_folders_name_the_problem(tmp_path, bad_file, content, fragments):
    folder = tmp_path / "bad"
    folder.mkdir()
    if bad_file:
        save(folder / "ok.png", np.zeros((4, 4), np.uint8))
        (folder / bad_file).write_bytes(content)
    with pytest.raises(DataError) as err:
        load_image_folder(folder)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_npz_without_labels_is_unlabelled_unless_labels_are_needed(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 4, 4), np.uint8))
    assert load_images(str(tmp_path / "x.npz")).y is None
    with pytest.raises(DataError, match="no array named 'y'"):
        load_images(str(tmp_path / "x.npz"), need_labels=True)


def test_resize_images_keeps_uint8_and_range():
    x = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 1), dtype=np.uint8)
    resized = resize_images(x, (28, 28))
    assert resized.shape == (2, 28, 28, 1) and resized.dtype == np.uint8
    assert resize_images(x, (8, 8)) is x


def test_digits_trains_on_a_folder_of_pngs_with_class_subfolders(digits_folder, tmp_path, capsys):
    """The image sources are shared: the digits application reads the same folder, labels from subfolders."""
    import json

    from applications.digits import main
    from conftest import run_in_process

    folder, _, _ = digits_folder
    embedded = load_embedded()  # 10 more per class so the stratified split has every class everywhere
    for i, (image, label) in enumerate(zip(embedded.x[30:130], embedded.y[30:130])):
        save(folder / f"class_{label}" / f"extra_{i:03d}.png", image)
    code, out, err = run_in_process(main, "--data", folder, "--model", "convnet", "--epochs", "1", "--verbose",
                                    "0", "--precision", "float32", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    metrics = json.loads(next(tmp_path.glob("digits/2*/metrics.json")).read_text())
    assert metrics["labels"] == [f"class_{d}" for d in range(10)]
    assert "130 grey images (8x8)" in metrics["data_source"]
