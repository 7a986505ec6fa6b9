"""Sentiment analysis on raw text, end to end.

    python -m applications.sentiment --data reviews.csv                  # bag of n-grams (tf-idf)
    python -m applications.sentiment --data reviews.csv --model bilstm --epochs 10 --export
    python -m applications.sentiment --data ../shared/data/imdb/imdb_reviews_2499.csv --cv 5
    python -m applications.sentiment predict --from saved_models/sentiment/1 "A wonderful film."

Data, in order: ``--data`` (a CSV or TSV read with pandas; ``--text-column``
and ``--label-column``, else the usual names; any label values, two or more
classes, mapped to class ids and recorded); IMDB reviews from
tensorflow-datasets or ``keras.datasets`` (word ids decoded back to text)
when cached or reachable. Offline with no ``--data`` there is nothing to
train on, and the run says how to provide data.

The model takes raw strings: ``TextVectorization`` (lower case, HTML tags
such as ``<br />`` and punctuation stripped), adapted on the training split
only, sits in front of the zoo classifier, so the exported ``serving_default``
takes a batch of strings. Token models (``bilstm``, ``gru``, ``transformer``,
``conv1d``, any registered sequence classifier) get padded token ids; the
bag-of-n-grams model gets tf-idf weights of unigrams and bigrams.
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import json
import pathlib
import sys

import keras
import numpy as np

import zoo
from applications.kit import cli, data, errors, precision, reporting
from applications.kit.run import ClassificationTask, Prepared, Serving, build_model, open_run, run

# The punctuation Keras' default standardisation strips, after HTML tags (IMDB has <br /> in it).
PUNCTUATION = r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']'


@keras.saving.register_keras_serializable(package="kerazoo")
def strip_html_and_punctuation(text):
    """Lower case; HTML tags, punctuation and odd whitespace become spaces (saved with the model by name)."""
    import tensorflow as tf

    text = tf.strings.lower(text)
    # Unicode separators and control characters (U+2028, U+0085, ...) too: split() keeps them inside
    # tokens, but the saved vocabulary is one token per line, so "well<U+2028>" would reload as "well".
    text = tf.strings.regex_replace(text, r"<[^>]*>|[\p{Z}\p{C}]", " ")
    return tf.strings.regex_replace(text, PUNCTUATION, " ")


@keras.saving.register_keras_serializable(package="kerazoo")
class SublinearTfIdf(keras.layers.Layer):
    """n-gram counts -> ``(1 + log count) * idf`` (0 where a count is 0): scikit-learn's ``sublinear_tf=True``.

    A word said ten times weighs about three times one said once, not ten.
    ``idf`` is a non-trainable weight (Keras' formula, ``log(1 + N / (1 +
    document frequency))``, from the training texts: ``set_idf``), saved
    with the model; the layer computes in float32 whatever the dtype policy.
    """

    def __init__(self, **kwargs):
        super().__init__(**{"dtype": precision.RAW_INPUT_DTYPE, **kwargs})

    def build(self, input_shape):
        self.idf = self.add_weight(name="idf", shape=(input_shape[-1],), initializer="ones", trainable=False)

    def set_idf(self, counts_of_batches) -> None:
        """The document frequency of each n-gram over ``counts_of_batches`` (count vectors), as idf."""
        documents, frequency = 0, np.zeros(self.idf.shape, "float64")
        for counts in counts_of_batches:
            counts = np.asarray(counts)
            documents += len(counts)
            frequency += (counts > 0).sum(axis=0)
        self.idf.assign(np.log1p(documents / (1 + frequency)).astype("float32"))

    def call(self, counts):
        counts = keras.ops.cast(counts, self.compute_dtype)
        return keras.ops.where(counts > 0, 1 + keras.ops.log(keras.ops.maximum(counts, 1)), 0) * self.idf


def text_classifiers() -> list[str]:
    """Registered sequence classifiers: token-id models, and n-gram-vector models."""
    return [name for name in zoo.names() if zoo.entry(name).task == "sequence_classification"]


# ------------------------------------------------------------------------ data

def load_imdb() -> data.Dataset:
    """IMDB's 25k training and 25k test reviews (``Dataset.test``) from tensorflow-datasets or keras.datasets;
    ``DataUnavailable`` saying why otherwise."""
    def from_keras():  # token ids back to words
        index = keras.datasets.imdb.get_word_index()
        words = {i + 3: word for word, i in index.items()}  # 0 pad, 1 start, 2 unknown
        return [([" ".join(words.get(i, "") for i in ids[1:]) for ids in x], y)
                for x, y in keras.datasets.imdb.load_data()]

    def as_text(texts):
        return np.array([t.decode("utf-8") if isinstance(t, bytes) else t for t in texts], dtype=object)

    (x_train, y_train), (x_test, y_test), source = data.load_public_split("IMDB reviews", "imdb_reviews", from_keras)
    return data.Dataset(as_text(x_train), np.asarray(y_train), source, ["negative", "positive"],
                        test=(as_text(x_test), np.asarray(y_test)),
                        notes=[f"official split: {len(x_train):,} train, {len(x_test):,} test reviews"])


def train_and_test_files(folder: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """The training and test tables of a ``--data`` folder: the one CSV/TSV (or .gz) file whose name says
    ``train`` and the one that says ``test``, as ``../shared/data/imdb`` holds them."""
    tables = sorted(p for p in folder.iterdir() if p.is_file() and
                    any(p.name.lower().endswith(s) for s in (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz")))
    parts = {part: [p for p in tables if part in p.name.lower()] for part in ("train", "test")}
    if len(parts["train"]) != 1 or len(parts["test"]) != 1:
        found = ", ".join(p.name for p in tables) or "no CSV or TSV files"
        raise errors.DataError(f"--data {folder}: a folder needs one table named *train* and one named *test* "
                               f"(it holds {found}); or give --data FILE [--test-data FILE]")
    return parts["train"][0], parts["test"][0]


def load_data(args) -> data.Dataset:
    """The texts to learn from: ``--data`` (a table, or a folder of a train and a test table) with
    ``--test-data``, else IMDB; a test part of their own in ``Dataset.test`` (pooled with ``--split random``)."""
    if args.data:
        train_file, test_file = pathlib.Path(args.data), getattr(args, "test_data", None)
        if train_file.is_dir():
            if test_file:
                raise errors.UsageError(f"--data {train_file} is a folder holding its own test table: "
                                        "drop --test-data, or give --data the training file")
            train_file, test_file = train_and_test_files(train_file)

        def table(path):
            return data.load_text_table(path, text_column=args.text_column, label_column=args.label_column,
                                        sep=args.sep)

        dataset = table(train_file)
        if test_file:
            test = table(test_file)
            dataset = data.Dataset(dataset.x, dataset.y, f"{dataset.source}; test: {test.source}",
                                   notes=[*dataset.notes, *test.notes], test=(test.x, test.y))
    elif getattr(args, "test_data", None):
        raise errors.UsageError("--test-data needs --data, the training table it is the test part of")
    else:
        try:
            dataset = load_imdb()
        except data.DataUnavailable as err:
            raise errors.UsageError(f"no --data given, and {err}; pass --data a CSV/TSV with a text and a label "
                                    "column (e.g. --data ../shared/data/imdb, its official 25k/25k split)") from None
    if dataset.test is not None and data.split_of(args) == "random":
        return dataset.pooled("--split random: train and test texts pooled and split at random")
    return dataset


# ----------------------------------------------------------------------- the task

class Sentiment(ClassificationTask):
    name = "sentiment"
    description = ("Classify the sentiment of raw texts with any sequence classifier of the zoo. "
                   "'predict' (first argument) scores texts with a trained model.")
    defaults = {"epochs": 20, "batch_size": 32, "learning_rate": 1e-3}
    aliases = {"transformer": "transformer_classifier", "conv1d": "conv1d_classifier", "bag": "bag_of_ngrams"}
    default_model = "bag_of_ngrams"
    patience = 4  # a few thousand reviews overfit within a few epochs

    @property
    def models(self):
        return text_classifiers()

    def add_arguments(self, parser):
        parser.add_argument("--data", help="a CSV or TSV file (or .csv.gz) with a text and a label column, or a "
                                           "folder holding a table named *train* and one named *test*")
        parser.add_argument("--test-data", help="the test part of --data, a table of the same columns (default: "
                                                "--test-fraction of --data, at random)")
        parser.add_argument("--split", choices=data.SPLITS, default="official",
                            help="'official' (default): the test table (--test-data, a folder's *test* table, "
                                 "IMDB's 25k test reviews) is the test part, validation comes from the training "
                                 "part; 'random': every text pooled and split at random")
        parser.add_argument("--text-column", help="default: the first of text, review, sentence")
        parser.add_argument("--label-column", help="default: the first of label, sentiment, polarity, target")
        parser.add_argument("--sep", help="column separator, '\\t' for a tab (default: tab for .tsv/.tab, else comma)")
        parser.add_argument("--test-fraction", type=cli.fraction, default=0.2,
                            help="with no test table of its own (or --split random)")
        parser.add_argument("--validation-fraction", type=cli.fraction, default=0.1,
                            help="taken from the training part (what remains after the test part)")
        parser.add_argument("--max-tokens", type=cli.positive_int, default=20_000,
                            help="vocabulary size: the most frequent tokens (n-grams for the bag model) "
                                 "of the training texts (default: 20000)")
        parser.add_argument("--sequence-length", type=cli.positive_int, default=256,
                            help="token models read the first N tokens, padded (default: 256)")
        parser.add_argument("--ngrams", type=cli.positive_int, default=2,
                            help="the bag model's n-grams: 1..N (default: 2, unigrams and bigrams)")
        parser.add_argument("--tf", choices=("raw", "sublinear"), default="raw",
                            help="the bag model's term frequency in tf-idf: raw counts (default), or 1 + log "
                                 "count (scikit-learn's sublinear_tf)")

    def check_arguments(self, args):
        if args.tf != "raw" and zoo.entry(args.model).input_kind != "vector":
            raise errors.UsageError(f"--tf {args.tf} weighs the bag model's n-grams; {args.model} reads token ids: "
                                    "drop --tf, or use --model bag")

    def load(self, args) -> Prepared:
        dataset = load_data(args)
        held = 0 if dataset.test is None else len(dataset.test[0])  # the test table's texts, last once pooled
        pooled = dataset.pooled()  # labels encoded together: a value is the same class id in both parts
        texts, labels = np.asarray(pooled.x, dtype=object), np.asarray(pooled.y)
        data.check_labels(labels, min_per_class=3)
        ids, values = data.encode_labels(labels)
        names = data.class_names(values, dataset.labels)
        train, validation, test, kind = data.split_classified(
            texts, ids, held_out=held, test_fraction=args.test_fraction,
            validation_fraction=args.validation_fraction, seed=args.seed)
        counts = dict(zip(names, np.bincount(ids).tolist()))
        summary = (f"{len(texts)} texts, classes {counts}; split {len(train[0])} train / {len(validation[0])} "
                   f"validation / {len(test[0])} test ({kind}, {'validation ' if held else ''}stratified, "
                   f"seed {args.seed})")
        return Prepared(train=train, validation=validation, test=test, source=dataset.source, pool=(texts, ids),
                        notes=[*dataset.notes, summary],
                        info={"labels": names, "label_values": values, "class_counts": counts,
                              "split": {"kind": kind, "train": len(train[0]), "validation": len(validation[0]),
                                        "test": len(test[0])}})

    def build(self, args, prepared) -> keras.Model:
        """Strings -> TextVectorization (adapted on the training texts) -> zoo classifier."""
        bag = zoo.entry(args.model).input_kind == "vector"
        sublinear = bag and getattr(args, "tf", "raw") == "sublinear"  # (runs from before --tf have none)
        if bag:
            vectorizer = keras.layers.TextVectorization(
                max_tokens=args.max_tokens, standardize=strip_html_and_punctuation, ngrams=args.ngrams,
                output_mode="count" if sublinear else "tf_idf", name="vectorizer")
        else:
            vectorizer = keras.layers.TextVectorization(
                max_tokens=args.max_tokens, standardize=strip_html_and_punctuation, output_mode="int",
                output_sequence_length=args.sequence_length, name="vectorizer")
        vectorizer.adapt(prepared.train[0], batch_size=256)  # training texts only
        vocabulary = vectorizer.vocabulary_size()
        classes = len(prepared.info["labels"])
        if bag:
            classifier = build_model(args, input_shape=(vocabulary,), classes=classes)
        else:
            classifier = build_model(args, vocabulary_size=vocabulary, sequence_length=args.sequence_length,
                                     classes=classes)
        inputs = keras.Input(shape=(), dtype="string", name="texts")
        x = vectorizer(inputs)
        if sublinear:
            weighting = SublinearTfIdf(name="sublinear_tf_idf")
            x = weighting(x)
            texts = prepared.train[0]
            weighting.set_idf(vectorizer(texts[i:i + 256]) for i in range(0, len(texts), 256))
        if bag:  # unit length per text, as scikit-learn's TfidfVectorizer: long reviews do not dominate
            x = keras.layers.UnitNormalization(name="l2_normalise")(x)
        return keras.Model(inputs, classifier(x), name=f"sentiment_{args.model}")

    def serving(self, model, prepared, args) -> Serving:
        fn, signature = serving_signature(model, prepared.info["labels"])
        return Serving(fn, signature, metadata={
            "inputs": {"texts": {"dtype": "string", "shape": [-1]}},
            "outputs": {"probabilities": [-1, len(prepared.info["labels"])], "class_id": [-1], "label": [-1]},
            "output_ranges": {"probabilities": [0, 1], "class_id": [0, len(prepared.info["labels"]) - 1]},
            "example_request": {"instances": ["A moving, beautifully acted film.",
                                              "Two hours I will never get back."]},
        })


def serving_signature(model, labels):
    """``serving_default``: strings ``[N]`` -> probabilities ``[N, classes]``, class_id and label ``[N]``."""
    import tensorflow as tf

    names = tf.constant(labels)

    def serve(texts):
        probabilities = tf.cast(model(tf.reshape(texts, [-1]), training=False), tf.float32)
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {"probabilities": probabilities, "class_id": class_id, "label": tf.gather(names, class_id)}

    return serve, [tf.TensorSpec(shape=[None], dtype=tf.string, name="texts")]


# ------------------------------------------------------------------ predict

def load_scorer(path):
    """A function texts -> (probabilities, labels) from a sentiment run folder (model.keras) or export."""
    path = pathlib.Path(path)
    if (path / "saved_model.pb").exists() and (path / "metadata.json").exists():
        import tensorflow as tf

        metadata = json.loads((path / "metadata.json").read_text())
        if metadata.get("model") != Sentiment.name:
            raise errors.UsageError(f"--from {path}: a {metadata.get('model')} export, not a sentiment one; give "
                                 "a folder that kerazoo-sentiment --export wrote")
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        return lambda texts: serve(texts=tf.constant(texts))["probabilities"].numpy(), metadata["labels"]
    if (path / "model.keras").exists():
        model, metrics = open_run(path, Sentiment.name, "kerazoo-sentiment")
        return lambda texts: reporting.predict(model, np.asarray(texts, dtype=object)), metrics["labels"]
    raise errors.UsageError(f"--from {path}: neither a run folder (model.keras, metrics.json) nor an export "
                         "(saved_model.pb, metadata.json)")


def predict_main(argv) -> int:
    parser = cli.ArgumentParser(prog="kerazoo-sentiment predict",
                                description="Score texts with a trained sentiment model.")
    parser.add_argument("texts", nargs="*", help="texts to score")
    parser.add_argument("--from", dest="source", required=True,
                        help="a run folder (runs/sentiment/<stamp>) or an export (saved_models/sentiment/<version>)")
    parser.add_argument("--file", help="score each non-empty line of this file too")
    args = parser.parse_args(argv)
    empty = [i for i, text in enumerate(args.texts, start=1) if not text.strip()]
    if empty:  # training drops empty texts: a score for one would mean nothing
        raise errors.UsageError(f"text {empty[0]} of {len(args.texts)} is empty; give each text to score as one argument")
    texts = list(args.texts)
    if args.file:
        try:
            texts += [line for line in pathlib.Path(args.file).read_text(encoding="utf-8").splitlines()
                      if line.strip()]
        except OSError as err:
            raise errors.UsageError(f"--file {args.file}: {err.strerror}") from None
        except UnicodeDecodeError as err:
            raise errors.UsageError(f"--file {args.file} is not UTF-8 text (byte {err.object[err.start]:#04x} at "
                                    f"offset {err.start}); save it as UTF-8, one text per line") from None
    if not texts:
        raise errors.UsageError("no texts to score: give them as arguments or with --file")
    score, labels = load_scorer(args.source)
    probabilities = score(texts)
    for text, row in zip(texts, probabilities):
        best = int(row.argmax())
        print(f"{labels[best]}\t{row[best]:.3f}\t{text[:70]}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["predict"]:
        return predict_main(argv[1:])
    return run(Sentiment(), argv)


def cli_main():
    sys.exit(cli.run(main, prog="kerazoo-sentiment"))


if __name__ == "__main__":
    cli_main()
