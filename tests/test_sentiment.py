"""The sentiment application: raw text in, accuracy on real reviews, export, predict, CV, errors, resume."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import kill_and_resume, run_app, run_in_process


@pytest.fixture(scope="module")
def imdb(shared_data_module):
    return shared_data_module / "imdb" / "imdb_reviews_2499.csv"


@pytest.fixture(scope="module")
def shared_data_module():
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it is not part of a fresh clone)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def bag_run(imdb, tmp_path_factory):
    """The bag-of-n-grams model on the 2,499 real IMDB reviews, exported."""
    work = tmp_path_factory.mktemp("sentiment")
    from applications.sentiment import main

    code, out, err = run_in_process(main, "--data", imdb, "--learning-rate", "1e-2", "--epochs", "8", "--export",
                                    "--output", work / "runs", "--export-dir", work / "saved_models")
    assert code == 0, out + err
    return work, next((work / "runs" / "sentiment").glob("2*")), out


def test_bag_of_ngrams_learns_real_reviews(bag_run):
    _, run_dir, out = bag_run
    assert "Data: " in out and "2499 texts" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["labels"] == ["negative", "positive"]
    assert metrics["class_counts"] == {"negative": 1234, "positive": 1265}
    assert metrics["test_accuracy"] >= 0.82  # 500 held-out reviews; scikit-learn TF-IDF + LR gets ~0.87
    for png in ("learning_curves.png", "learning_rate.png", "confusion_matrix.png"):
        assert (run_dir / png).exists()


def test_export_takes_raw_strings_in_a_fresh_process(bag_run, imdb):
    import keras

    import applications.sentiment  # noqa: F401  registers the text standardisation model.keras names

    work, run_dir, _ = bag_run
    export = work / "saved_models" / "sentiment" / "1"
    metadata = json.loads((export / "metadata.json").read_text())
    assert metadata["labels"] == ["negative", "positive"]
    assert metadata["inputs"]["texts"]["dtype"] == "string"
    texts = pd.read_csv(imdb)["review"].to_numpy(dtype=object)[:40]
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    expected = np.asarray(model(texts, training=False), dtype="float32")
    (work / "texts.json").write_text(json.dumps(texts.tolist()))
    script = textwrap.dedent(f"""
        import json, numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(export)!r}).signatures["serving_default"]
        out = serve(texts=tf.constant(json.load(open({str(work / "texts.json")!r}))))
        np.save({str(work / "served.npy")!r}, out["probabilities"].numpy())
        assert set(out["label"].numpy()) <= {{b"negative", b"positive"}}
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    served = np.load(work / "served.npy")
    # Trained under mixed_bfloat16 (3 significant digits): the traced graph may round differently.
    np.testing.assert_allclose(served, expected, atol=1e-2)
    np.testing.assert_array_equal(served.argmax(-1), expected.argmax(-1))

    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable))
    ran = subprocess.run([cli, "run", "--dir", str(export), "--tag_set", "serve", "--signature_def",
                          "serving_default", "--input_exprs", 'texts=["a great film", "an awful film"]'],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "label" in ran.stdout and "probabilities" in ran.stdout


def test_predict_from_a_run_folder_and_from_an_export(bag_run, tmp_path, capsys):
    from applications.sentiment import main

    work, run_dir, _ = bag_run
    texts = tmp_path / "texts.txt"
    texts.write_text("A wonderful, moving film with a brilliant cast.\n\nDreadful, boring and far too long.\n")
    for source in (run_dir, work / "saved_models" / "sentiment" / "1"):
        code, out, err = run_in_process(main, "predict", "--from", source, "--file", texts,
                                        "An excellent film.", capsys=capsys)
        assert code == 0, err
        lines = out.strip().splitlines()
        assert len(lines) == 3  # the argument and the two non-empty lines
        assert [line.split("\t")[0] for line in lines] == ["positive", "positive", "negative"]
    code, _, err = run_in_process(main, "predict", "--from", tmp_path, "x", capsys=capsys)
    assert code == 2 and "neither a run folder" in err
    code, _, err = run_in_process(main, "predict", "--from", run_dir, "A fine film.", " ", capsys=capsys)
    assert code == 2 and "text 2 of 2 is empty" in err  # was scored as if it were a review


def test_html_and_punctuation_are_stripped():
    from applications.sentiment import strip_html_and_punctuation

    out = strip_html_and_punctuation(np.array(["Great!<br /><br />A <i>fine</i> film, really."]))
    assert out.numpy()[0].decode().split() == ["great", "a", "fine", "film", "really"]


@pytest.mark.parametrize("model", ["bilstm", "gru", "transformer", "conv1d"])
def test_token_models_train_from_raw_text(model, tmp_path, capsys):
    from applications.sentiment import main

    rng = np.random.default_rng(0)
    words = np.array("good bad film plot actor scene".split())
    frame = pd.DataFrame({"text": [" ".join(rng.choice(words, 12)) for _ in range(60)],
                          "label": ["pos", "neg"] * 30})
    frame.to_csv(tmp_path / "t.csv", index=False)
    code, out, err = run_in_process(main, "--data", tmp_path / "t.csv", "--model", model, "--epochs", "1",
                                    "--sequence-length", "16", "--verbose", "0", "--output", tmp_path,
                                    capsys=capsys)
    assert code == 0, err
    metrics = json.loads(next((tmp_path / "sentiment").glob("2*/metrics.json")).read_text())
    assert metrics["labels"] == ["neg", "pos"] and 0 <= metrics["test_accuracy"] <= 1


def test_cross_validation_reports_mean_and_std_over_stratified_folds(tmp_path, capsys):
    from applications.sentiment import main

    # Three classes, separable by one word each; a TSV with its own column names.
    rng = np.random.default_rng(1)
    cue = {"happy": "joy", "sad": "grief", "angry": "rage"}
    rows = [(label, f"{' '.join(rng.choice(['the', 'a', 'film', 'day'], 6))} {cue[label]}")
            for label in list(cue) * 30]
    pd.DataFrame(rows, columns=["mood", "sentence"]).to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    code, out, err = run_in_process(main, "--data", tmp_path / "m.tsv", "--label-column", "mood", "--cv", "3",
                                    "--epochs", "10", "--learning-rate", "0.1", "--verbose", "0",
                                    "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    run_dir = next((tmp_path / "sentiment").glob("2*"))
    folds = pd.read_csv(run_dir / "cv_folds.csv")
    assert list(folds["fold"]) == [1, 2, 3]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["folds"] == 3 and metrics["labels"] == ["angry", "happy", "sad"]
    assert metrics["test_accuracy_mean"] == pytest.approx(folds["test_accuracy"].mean())
    assert metrics["test_accuracy_std"] == pytest.approx(folds["test_accuracy"].std())
    assert metrics["test_accuracy_mean"] >= 0.9  # one cue word per class
    assert "Cross-validation, 3 stratified folds: test_accuracy" in out


def test_cross_validation_folds_match_scikit_learn(tmp_path, monkeypatch):
    """The kit's folds are StratifiedKFold(K, shuffle, seed) on the examples in file order (the
    benchmark relies on it), and no held-out example is in a fold's training or validation part."""
    from sklearn.model_selection import StratifiedKFold

    import applications.kit.run as kit_run
    from applications.sentiment import Sentiment

    texts = np.array([f"text {i}" for i in range(30)], dtype=object)
    labels = np.arange(30) % 2
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "t.csv", index=False)
    task = Sentiment()
    args = kit_run.parse_args(task, ["--data", str(tmp_path / "t.csv"), "--cv", "3", "--output", str(tmp_path)])
    folds = []

    def fake_fit(task, args, fold, optimiser, run_dir, backup_dir, **options):
        folds.append(fold)
        return None, type("Result", (), {"history": [0]})(), {"test_accuracy": 0.5}

    monkeypatch.setattr(kit_run, "fit", fake_fit)
    kit_run.cross_validate(task, args, task.load(args), kit_run.optimiser_settings(args), folds=3)
    expected = StratifiedKFold(3, shuffle=True, random_state=42).split(texts, labels)
    for fold, (_, held_out) in zip(folds, expected, strict=True):
        assert sorted(fold.test[0]) == sorted(texts[held_out])
        assert not (set(fold.train[0]) | set(fold.validation[0])) & set(texts[held_out])
        assert len(fold.train[0]) + len(fold.validation[0]) + len(held_out) == 30


@pytest.mark.parametrize("content, options, message", [
    ("", [], "is empty"),
    ("text,label\n", [], "no data rows"),
    ("words,label\nnice,1\nbad,0\n", [], "none of the usual columns"),
    ("text,label\nnice,1\nbad,0\n", ["--label-column", "stars"], "no column 'stars'"),
    ("text,label\n" + "a film,pos\n" * 12, [], "all labels are pos"),
    ("text,label\n" + " ,pos\n ,neg\n" * 6, [], "every row has an empty 'text'"),
    ("text;label\nnice;1\nbad;0\n", [], "one column, 'text;label', which looks ';'-separated: pass --sep ';'"),
])
def test_bad_csv_is_a_one_line_error(content, options, message, tmp_path, capsys):
    from applications.sentiment import main

    (tmp_path / "bad.csv").write_text(content)
    code, out, err = run_in_process(main, "--data", tmp_path / "bad.csv", "--output", tmp_path, *options,
                                    capsys=capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_offline_without_data_says_how_to_provide_it(tmp_path):
    from applications.kit.data import internet_reachable

    if internet_reachable():
        pytest.skip("online: IMDB would be downloaded")
    result = run_app("applications.sentiment", "--output", tmp_path, cwd=tmp_path,
                     env={"KERAS_HOME": str(tmp_path / "keras"), "TFDS_DATA_DIR": str(tmp_path / "tfds")})
    assert result.returncode == 2
    assert "pass --data a CSV" in result.stderr and "Traceback" not in result.stderr
    assert "the internet is unreachable" in result.stderr
    assert "WARNING:absl" not in result.stderr, result.stderr  # tensorflow-datasets' probe is quiet
    assert "Downloading data from" not in result.stdout  # keras.datasets announced a download, then failed


def test_cv_with_export_is_refused(tmp_path, capsys):
    from applications.sentiment import main

    code, _, err = run_in_process(main, "--cv", "3", "--export", capsys=capsys)
    assert code == 2 and "drop --export" in err


@pytest.mark.slow  # the kit's resume is in the quick tier (digits)
def test_killed_run_resumes_exactly(imdb, tmp_path):
    import applications.sentiment  # noqa: F401  registers the text standardisation model.keras names

    pd.read_csv(imdb).head(300).to_csv(tmp_path / "small.csv", index=False)

    def command(out):
        return [sys.executable, "-m", "applications.sentiment", "--data", str(tmp_path / "small.csv"),
                "--model", "conv1d", "--sequence-length", "64", "--epochs", "5", "--deterministic",
                "--verbose", "0", "--output", str(out)]

    kill_and_resume(command, "sentiment", tmp_path, epochs=5)
