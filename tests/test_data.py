import gzip

import numpy as np
import pytest

from applications.kit import data, errors


def write_idx(path, array):
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def test_idx_round_trip(tmp_path):
    images = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    labels = np.array([3, 7], dtype=np.uint8)
    write_idx(tmp_path / "a-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "a-labels-idx1-ubyte.gz", labels)
    dataset = data.load_path(tmp_path)
    x, y, source = dataset.x, dataset.y, dataset.source
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert str(tmp_path) in source


def test_real_mnist_idx(shared_data):
    x, y = data.load_idx_folder(shared_data / "mnist")
    assert x.shape == (10_000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10_000,) and set(np.unique(y)) == set(range(10))


@pytest.mark.parametrize("content, message", [
    (b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") * 3 + b"\x00" * 10, "corrupt"),
    (b"GIF89a....", "not an IDX file"),
])
def test_corrupt_idx(tmp_path, content, message):
    path = tmp_path / "x-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(errors.DataError, match=message):
        data.load_idx(path)


def test_npz_missing_key_and_corrupt(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.zeros((2, 2)))
    with pytest.raises(errors.DataError, match="no array named 'x'"):
        data.load_npz(tmp_path / "a.npz")
    (tmp_path / "b.npz").write_bytes(b"not a zip")
    with pytest.raises(errors.DataError, match="is not an NPZ of arrays"):
        data.load_npz(tmp_path / "b.npz")


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((0, 2)), np.zeros(0, int), "empty"),
    (np.full((30, 2), np.nan), np.arange(30) % 2, "NaN"),
    (np.zeros((30, 2)), np.zeros(30, int), "at least two classes"),
    (np.zeros((30, 2)), np.arange(31) % 2, "pair"),
    (np.zeros((30, 2)), (np.arange(30) % 2) + 0.5, "non-integer"),
    (np.zeros((30, 2)), np.r_[np.zeros(29, int), 1], "only 1 example;"),
])
def test_classification_checks(x, y, message):
    with pytest.raises(errors.DataError, match=message):
        data.check_classification_data(x, y)


def test_stratified_split_keeps_proportions():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    x = np.arange(len(y))
    (xt, yt), (xv, yv), (xs, ys) = data.stratified_split(x, y, test_fraction=0.2,
                                                           validation_fraction=0.1, seed=0)
    assert len(xt) + len(xv) + len(xs) == len(y)
    assert len(set(xt) | set(xv) | set(xs)) == len(y)  # disjoint and complete
    np.testing.assert_array_equal(np.bincount(ys), [20, 10, 6, 4])


def test_make_dataset_batches_everything_once():
    x = np.arange(10)
    batches = list(data.make_dataset(x, x * 2, batch_size=4, shuffle=True, seed=1))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[0].numpy() for b in batches])
    assert sorted(seen) == list(range(10))
    assert all((b[1].numpy() == 2 * b[0].numpy()).all() for b in batches)


def test_encode_labels_maps_any_values_to_class_ids():
    ids, names = data.encode_labels(np.array([10, 1, 5, 10, 1]))
    np.testing.assert_array_equal(ids, [2, 0, 1, 2, 0])
    assert names == ["1", "5", "10"]
    ids, names = data.encode_labels(np.array(["pos", "neg", "pos"]))
    assert names == ["neg", "pos"] and ids.tolist() == [1, 0, 1]


def test_split_too_small_for_the_classes():
    with pytest.raises(errors.DataError, match="--test-fraction 0.01 leaves 1 of 100 examples for 10 classes"):
        data.check_split(np.arange(100) % 10, test_fraction=0.01, validation_fraction=0.1)


def test_training_pipeline_order_depends_only_on_seed_and_epoch():
    x = np.arange(20)

    def order(pipeline, epoch):
        pipeline.epoch.assign(epoch)
        return np.concatenate([b.numpy() for b in pipeline.dataset]).tolist()

    first, second = data.TrainingPipeline(x, batch_size=6, seed=3), data.TrainingPipeline(x, batch_size=6, seed=3)
    assert sorted(order(first, 0)) == list(range(20))  # every example once per epoch
    assert order(first, 4) == order(second, 4)  # a fresh pipeline (a resumed run) at epoch 4: same order
    assert order(first, 0) != order(first, 1)  # a new order each epoch
    assert order(data.TrainingPipeline(x, batch_size=6, seed=4), 4) != order(first, 4)


@pytest.mark.parametrize("drop_remainder, batches", [(False, 41), (True, 40)])
def test_fit_counts_the_batches_an_epoch_has_under_steps_per_execution(drop_remainder, batches, capsys):
    """1,293 examples in batches of 32 are 41 steps (40 without the remainder); Keras' progress bar
    said 48/48 (three whole executions of 16) when the pipeline hid its length."""
    import keras

    x = np.random.default_rng(0).normal(size=(1293, 3)).astype("float32")
    pipeline = data.TrainingPipeline(x, x[:, :1], batch_size=32, seed=0, drop_remainder=drop_remainder)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=16)
    model.fit(pipeline.dataset, epochs=2, verbose=2, shuffle=False, callbacks=[pipeline.callback])
    progress = [line.split(" - ")[0] for line in capsys.readouterr().out.splitlines() if "/step - " in line]
    assert progress == [f"{batches}/{batches}"] * 2
    assert model.optimizer.iterations.numpy() == 2 * batches == 2 * pipeline.steps_per_epoch
    assert pipeline.dataset.cardinality().numpy() == batches


@pytest.mark.parametrize("x, y, batch_size, message", [
    (np.zeros((10, 3)), np.zeros(9), 4, "x has 10 examples but y has 9 labels"),   # was an error inside tf.gather
    (np.zeros((10, 3)), np.zeros(11), 4, "x has 10 examples but y has 11 labels"),  # was silently ignored
    (np.zeros((0, 3)), None, 4, "there are no training examples"),
    (np.zeros((10, 3)), None, 0, "batch_size=0 is invalid: expected an integer >= 1"),
    (np.zeros((10, 3)), None, 2.5, "batch_size=2.5 is invalid"),
])
def test_training_pipeline_refuses_arrays_it_cannot_batch(x, y, batch_size, message):
    with pytest.raises(ValueError, match=message):
        data.TrainingPipeline(x, y, batch_size=batch_size, seed=0)


def test_class_names_use_the_sources_names_only_for_exactly_its_ids():
    from applications.kit.data import class_names

    assert class_names(["0", "1"], ["neg", "pos"]) == ["neg", "pos"]
    assert class_names(["0", "1", "2"], ["neg", "pos"]) == ["0", "1", "2"]   # a third class has no name
    assert class_names(["1", "2"], ["neg", "pos"]) == ["1", "2"]             # labels that are not the ids
    assert class_names(["0", "1"], []) == ["0", "1"]


# ------------------------------------------------------------- public data sets

NOT_PREPARED = AssertionError("Dataset mnist: could not find data in /nowhere. Please make sure to call "
                              "dataset_builder.download_and_prepare(), or pass download=True to tfds.load()")


def fake_tfds_load(monkeypatch, on_download):
    """tfds.load without a prepared copy; with download=True it does what ``on_download`` does."""
    import tensorflow_datasets as tfds

    def load(name, *, download, **kwargs):
        if not download:
            raise NOT_PREPARED
        return on_download()

    monkeypatch.setattr(tfds, "load", load)


def keras_offline():
    raise Exception("URL fetch failure on https://storage.googleapis.com/x.npz: None -- Name or service not known")


def test_public_data_offline_says_why_each_source_failed(monkeypatch):
    fake_tfds_load(monkeypatch, on_download=lambda: pytest.fail("downloaded while offline"))
    monkeypatch.setattr(data.public, "internet_reachable", lambda: False)
    with pytest.raises(data.DataUnavailable) as error:
        data.load_public("MNIST", "mnist", keras_offline)
    message = str(error.value)
    assert message.startswith("no copy of MNIST is cached or downloadable")
    assert "could not find data in /nowhere, and the internet is unreachable" in message
    assert "keras.datasets: URL fetch failure" in message and "Please make sure" not in message


def keras_announcing_a_download(then):
    """keras.datasets as it behaves: it prints "Downloading data from ..." before it fetches, then ``then()``."""
    def load():
        print("Downloading data from https://storage.googleapis.com/x.npz")
        return then()
    return load


def test_public_data_offline_does_not_announce_a_download(monkeypatch, capsys):
    fake_tfds_load(monkeypatch, on_download=lambda: pytest.fail("downloaded while offline"))
    monkeypatch.setattr(data.public, "internet_reachable", lambda: False)
    with pytest.raises(data.DataUnavailable) as error:
        data.load_public("MNIST", "mnist", keras_announcing_a_download(keras_offline))
    assert error.value.offline
    assert "Downloading data from" not in capsys.readouterr().out
    cached = data.load_public("MNIST", "mnist", lambda: (print("read from the cache"), (np.zeros(2), np.zeros(2)))[1])
    assert cached[2] == "MNIST via keras.datasets"
    assert capsys.readouterr().out == "read from the cache\n"  # what a load that worked printed is shown


def test_public_data_online_shows_the_download_as_it_happens(monkeypatch, capsys):
    def broken():
        raise OSError("No space left on device")

    fake_tfds_load(monkeypatch, on_download=broken)
    monkeypatch.setattr(data.public, "internet_reachable", lambda: True)
    with pytest.raises(data.DataUnavailable) as error:
        data.load_public("MNIST", "mnist", keras_announcing_a_download(keras_offline))
    assert not error.value.offline
    assert "Downloading data from" in capsys.readouterr().out  # online, its progress is not held back


def test_public_data_names_a_failed_download(monkeypatch):
    def disk_full():
        raise OSError("No space left on device")

    fake_tfds_load(monkeypatch, on_download=disk_full)
    monkeypatch.setattr(data.public, "internet_reachable", lambda: True)
    with pytest.raises(data.DataUnavailable, match=r"could not download mnist \(OSError: No space left on device\)"):
        data.load_public("MNIST", "mnist", keras_offline)


def test_public_data_without_tensorflow_datasets_says_so_and_uses_keras(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails
    with pytest.raises(data.DataUnavailable, match="tensorflow-datasets cannot be imported"):
        data.load_public("MNIST", "mnist", keras_offline)
    x, y, source = data.load_public("MNIST", "mnist", lambda: (np.zeros((2, 28, 28)), np.array([0, 1])))
    assert source == "MNIST via keras.datasets" and x.shape == (2, 28, 28)


def test_read_table_names_the_separator_a_one_column_header_holds(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("text\tlabel\ngreat\t1\nawful\t0\n")
    with pytest.raises(errors.DataError, match=r"one column, 'text\\tlabel', which looks '\\t'-separated: "
                                             r"pass --sep '\\t'"):
        data.read_table(path)
    assert list(data.read_table(path, sep="\\t").columns) == ["text", "label"]  # --sep '\t' as typed in a shell
    path.write_text("value\n1\n2\n")  # one column with no separator in its name is a table of one column
    assert list(data.read_table(path).columns) == ["value"]


def test_text_table_drops_unlabelled_rows_and_keeps_integer_labels(tmp_path, capsys):
    path = tmp_path / "reviews.csv"
    path.write_text('review,sentiment\n"great",1\n"awful",0\n"no label",\n"   ",1\n"fine",1\n')
    table = data.load_text_table(path)
    texts, labels = table.x, table.y
    assert list(texts) == ["great", "awful", "fine"]
    assert labels.tolist() == [1, 0, 1] and labels.dtype.kind == "i"  # not 1.0 / 0.0 (read as float with a gap)
    assert data.encode_labels(labels)[1] == ["0", "1"]  # the class names exports and metrics.json record
    assert table.notes == [f"{path}: dropped 2 of 5 rows (an empty text or no label)"]
    assert capsys.readouterr().out == ""  # the run prints what loading found, not the loader
    assert data.encode_labels(np.array([0.5, 1.5, 0.5]))[1] == ["0.5", "1.5"]  # not "0" / "1"
    # An "inf" label is not a whole number: it stays a float, and check_labels refuses it.
    path.write_text('review,sentiment\n"great",1\n"awful",0\n"odd",inf\n')
    labels = data.load_text_table(path).y
    assert labels.dtype.kind == "f" and np.isinf(labels[2])  # was cast to -9223372036854775808, a class of its own
    with pytest.raises(errors.DataError, match="non-integer values"):
        data.check_labels(labels, min_per_class=1)
