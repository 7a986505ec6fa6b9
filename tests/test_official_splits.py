"""Official splits: a source's own test part is the test set (MNIST's t10k-* files beside its train-* files, an
NPZ's x_test, a sentiment --test-data table or a folder's *test* table), validation comes from its training part,
and metrics.json records which split was used; --split random keeps the old pooled random split."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import assert_one_line_error, run_in_process
from test_data import write_idx

DIGITS = ["--model", "mlp", "--epochs", "1", "--verbose", "0", "--precision", "float32"]


@pytest.fixture(scope="module")
def idx_folders(tmp_path_factory):
    """The embedded 8x8 digits written as MNIST's downloads are: 1,497 train-* and 300 t10k-* images; and a
    folder with the train pair alone."""
    from applications.kit.images import load_embedded

    digits = load_embedded()
    x, y = digits.x, digits.y.astype(np.uint8)
    both, train_only = tmp_path_factory.mktemp("both"), tmp_path_factory.mktemp("train_only")
    for folder in (both, train_only):
        write_idx(folder / "train-images-idx3-ubyte.gz", x[:-300])
        write_idx(folder / "train-labels-idx1-ubyte.gz", y[:-300])
    write_idx(both / "t10k-images-idx3-ubyte.gz", x[-300:])
    write_idx(both / "t10k-labels-idx1-ubyte.gz", y[-300:])
    return both, train_only, x


def digits_run(tmp_path, capsys, *args):
    from applications.digits import main

    code, out, err = run_in_process(main, *DIGITS, "--output", tmp_path, *args, capsys=capsys)
    assert code == 0, err
    run_dir = next((tmp_path / "digits").glob("2*"))
    return json.loads((run_dir / "metrics.json").read_text()), out


def test_an_idx_folder_with_train_and_t10k_pairs_is_split_officially(idx_folders, tmp_path, capsys):
    both, _, x = idx_folders
    metrics, out = digits_run(tmp_path, capsys, "--data", both)
    assert metrics["split"] == {"kind": "official", "train": 1347, "validation": 150, "test": 300}
    assert "official split: train-images-idx3-ubyte.gz for training, t10k-images-idx3-ubyte.gz for testing" in out
    # The test set is the t10k images, every one of them: the test report counts their labels.
    assert sum(row["support"] for row in metrics["per_class"].values()) == 300


def test_split_random_pools_both_pairs_as_before(idx_folders, tmp_path, capsys):
    both, _, _ = idx_folders
    metrics, out = digits_run(tmp_path, capsys, "--data", both, "--split", "random")
    assert metrics["split"] == {"kind": "random", "train": 1293, "validation": 144, "test": 360}
    assert "--split random, so its images are split at random" in out


def test_a_folder_without_a_test_pair_is_split_at_random_and_says_so(idx_folders, tmp_path, capsys):
    _, train_only, _ = idx_folders
    metrics, out = digits_run(tmp_path, capsys, "--data", train_only)
    assert metrics["split"] == {"kind": "random", "train": 1077, "validation": 120, "test": 300}
    assert f"{train_only}: it holds no train-* and t10k-* pair (MNIST's layout), so its images are split at " \
           "random" in out


def test_an_npz_saved_as_keras_datasets_saves_mnist_is_split_officially(idx_folders, tmp_path):
    from applications.kit import data

    _, _, x = idx_folders
    y = np.arange(len(x)) % 10
    np.savez(tmp_path / "mnist.npz", x_train=x[:1000], y_train=y[:1000], x_test=x[1000:], y_test=y[1000:])
    official = data.load_path(tmp_path / "mnist.npz")
    assert len(official.x) == 1000 and len(official.test[0]) == len(x) - 1000
    pooled = data.load_path(tmp_path / "mnist.npz", split="random")
    assert len(pooled.x) == len(x) and pooled.test is None


def test_the_public_sets_own_parts_come_back_apart(monkeypatch):
    """tensorflow-datasets' 'train' and 'test' splits are loaded one by one, not as 'train+test'."""
    from applications.kit.data import public

    asked = []

    def fake_tfds(name, split="train+test"):
        asked.append(split)
        return np.zeros((6 if split == "train" else 4, 2, 2), np.uint8), np.arange(6 if split == "train" else 4)

    monkeypatch.setattr(public, "load_tfds", fake_tfds)
    train, test, source = public.load_public_split("MNIST", "mnist", lambda: None)
    assert asked == ["train", "test"] and len(train[0]) == 6 and len(test[0]) == 4
    assert source == "MNIST via tensorflow-datasets"


# ------------------------------------------------------------------ sentiment

def reviews(n, seed):
    rng = np.random.default_rng(seed)
    good, bad = ["great", "wonderful", "superb", "moving"], ["awful", "boring", "dreadful", "dull"]
    labels = rng.integers(0, 2, n)
    texts = [" ".join(rng.choice(good if label else bad, 6)) + " film" for label in labels]
    return pd.DataFrame({"text": texts, "label": labels})


@pytest.fixture(scope="module")
def review_tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reviews")
    reviews(400, 0).to_csv(folder / "reviews_train.csv.gz", index=False)  # gzipped, as ../shared/data/imdb holds them
    reviews(100, 1).to_csv(folder / "reviews_test.csv", index=False)
    return folder


SENTIMENT = ["--epochs", "1", "--verbose", "0", "--precision", "float32", "--max-tokens", "200"]


def sentiment_run(tmp_path, capsys, *args):
    from applications.sentiment import main

    code, out, err = run_in_process(main, *SENTIMENT, "--output", tmp_path, *args, capsys=capsys)
    assert code == 0, err
    return json.loads((next((tmp_path / "sentiment").glob("2*")) / "metrics.json").read_text()), out


def test_sentiment_test_data_is_the_test_set(review_tables, tmp_path, capsys):
    metrics, out = sentiment_run(tmp_path, capsys, "--data", review_tables / "reviews_train.csv.gz",
                                 "--test-data", review_tables / "reviews_test.csv")
    assert metrics["split"] == {"kind": "official", "train": 360, "validation": 40, "test": 100}
    assert sum(row["support"] for row in metrics["per_class"].values()) == 100
    assert "test: " in metrics["data_source"] and "reviews_test.csv" in metrics["data_source"]


def test_a_sentiment_folder_of_a_train_and_a_test_table_is_split_officially(review_tables, tmp_path, capsys):
    metrics, _ = sentiment_run(tmp_path, capsys, "--data", review_tables)
    assert metrics["split"] == {"kind": "official", "train": 360, "validation": 40, "test": 100}
    random_dir = tmp_path / "random"
    metrics, out = sentiment_run(random_dir, capsys, "--data", review_tables, "--split", "random")
    assert metrics["split"] == {"kind": "random", "train": 360, "validation": 40, "test": 100}
    assert "train and test texts pooled and split at random" in out


@pytest.mark.parametrize("args, fragments", [
    (["--test-data", "x.csv"], ["--test-data needs --data"]),
    (["--data", "{folder}", "--test-data", "x.csv"], ["is a folder holding its own test table", "drop --test-data"]),
    (["--data", "{empty}"], ["a folder needs one table named *train* and one named *test*", "no CSV or TSV files"]),
])
def test_sentiment_split_mistakes_are_one_line_errors(args, fragments, review_tables, tmp_path, capsys):
    from applications.sentiment import main

    (tmp_path / "empty").mkdir()
    args = [a.format(folder=review_tables, empty=tmp_path / "empty") for a in args]
    code, _, err = run_in_process(main, *SENTIMENT, "--output", tmp_path, *args, capsys=capsys)
    assert_one_line_error(code, err, *fragments)


# ------------------------------------------------------------------ sublinear tf

def test_sublinear_tf_idf_matches_scikit_learns_weighting(review_tables, tmp_path, capsys):
    """--tf sublinear: (1 + log count) * idf, L2-normalised per text, as TfidfVectorizer(sublinear_tf=True) does
    up to its idf formula (Keras': log(1 + N / (1 + df))); saved with the model and reloaded."""
    import keras

    import applications.sentiment  # noqa: F401  registers the layers the saved model names

    texts = np.array(["great great great film", "awful film", "great plot"], dtype=object)
    metrics, _ = sentiment_run(tmp_path, capsys, "--data", review_tables, "--model", "bag", "--tf", "sublinear",
                               "--epochs", "5", "--learning-rate", "1e-2")
    run_dir = next((tmp_path / "sentiment").glob("2*"))
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    vectorizer, weighting = model.get_layer("vectorizer"), model.get_layer("sublinear_tf_idf")
    counts = np.asarray(vectorizer(texts))
    vocabulary = vectorizer.get_vocabulary()
    train = pd.read_csv(review_tables / "reviews_train.csv.gz")
    idf = np.asarray(weighting.idf)
    weights = np.asarray(weighting(counts))
    great = vocabulary.index("great")
    assert weights[0, great] == pytest.approx((1 + np.log(3)) * idf[great], rel=1e-5)  # said 3 times: not 3x
    assert weights[2, great] == pytest.approx(idf[great], rel=1e-5)
    assert weights[1, great] == 0
    # The idf of "wonderful" from the share of training texts holding it (the table's 400 less the validation 40).
    share = train["text"].str.contains("wonderful").mean()
    assert idf[vocabulary.index("wonderful")] == pytest.approx(np.log1p(1 / (share + 1 / 360)), rel=0.1)
    assert metrics["test_accuracy"] > 0.9


def test_tf_is_refused_for_a_token_model(tmp_path, capsys):
    from applications.sentiment import main

    code, _, err = run_in_process(main, "--model", "gru", "--tf", "sublinear", "--output", tmp_path, capsys=capsys)
    assert_one_line_error(code, err, "--tf sublinear weighs the bag model's n-grams; gru reads token ids")


@pytest.mark.parametrize("app, args, expected", [
    ("compression", ["--model", "dense", "--latent-dim", "4"],
     {"kind": "official", "train": 1347, "validation": 150, "test": 300}),
    ("generation", ["train", "--model", "dcgan", "--resize", "8", "--classifier-epochs", "1"],
     {"kind": "official", "train": 1497, "test": 300}),
])
def test_compression_and_generation_hold_out_the_official_test_part(app, args, expected, idx_folders, tmp_path,
                                                                    capsys):
    import importlib

    both, _, _ = idx_folders
    main = importlib.import_module(f"applications.{app}").main
    code, _, err = run_in_process(main, *args, "--data", both, "--epochs", "1", "--verbose", "0", "--precision",
                                  "float32", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    metrics = json.loads(next((tmp_path / app).glob("2*/metrics.json")).read_text())
    assert metrics["split"] == expected


def test_a_run_recorded_before_split_existed_reloads_its_data_as_it_was_split(idx_folders):
    """evaluate --from an older run rebuilds its arguments from metrics.json, which has no 'split': that run
    pooled every image, so its data must be pooled again (else the fingerprint check would refuse it)."""
    import argparse

    from applications.digits import Digits

    both, _, _ = idx_folders
    recorded = argparse.Namespace(data=str(both), source="auto", resize=None, test_fraction=0.2,
                                  validation_fraction=0.1, seed=42)
    assert Digits().load(recorded).info["split"] == {"kind": "random", "train": 1293, "validation": 144, "test": 360}
