"""Data loading, validation, splitting and tf.data pipelines shared by the applications, one module per concern.

Loaders raise ``DataError`` (a ``ValueError``) with a message that names the
problem and the fix, so the command-line tools can print one line and exit 2.

- file formats: IDX (MNIST), NPZ, a ``--data`` path of either; CSV/TSV tables through pandas
  (``read_table``, ``pick_column``, ``load_text_table``; forecasting reads its time series with them,
  ``applications/forecasting/series.py``);
- public sets: ``load_public`` and ``load_public_split`` (its own train and test parts) from
  tensorflow-datasets, then keras.datasets (``DataUnavailable`` says why neither answered); ``load_tfds``
  probes the cheap way first, so offline runs fall back in seconds;
- checks: ``check_classification_data``, ``encode_labels`` (any label values -> 0..K-1), ``class_names``,
  ``check_split``, ``as_images``;
- splits: ``SPLITS`` (``--split official``: a source's own test part, ``Dataset.test``; ``random``),
  ``stratified_split``, ``split_classified`` (either kind, labelled examples); pipelines:
  ``TrainingPipeline`` (shuffle order a function of seed and epoch only, so a resumed run sees the
  batches it would have seen), ``make_dataset``; ``fingerprint`` of the arrays a run trains on.
"""

# What every module of the package offers, importable as applications.kit.data.<name>.
from applications.kit.data.files import (  # noqa: F401
    SPLITS, Dataset, idx_train_test, load_idx, load_idx_folder, load_idx_pair, load_npz, load_npz_parts, load_path,
    split_of,
)
from applications.kit.data.tables import (  # noqa: F401
    load_text_table, pick_column, read_table,
)
from applications.kit.data.public import (  # noqa: F401
    DataUnavailable, internet_reachable, load_public, load_public_split, load_tfds,
)
from applications.kit.data.checks import (  # noqa: F401
    as_images, check_classification_data, check_finite, check_labels, check_split, class_names, encode_labels,
    short, split_classified, stratified_split, whole_numbers_as_int,
)
from applications.kit.data.pipelines import (  # noqa: F401
    TrainingPipeline, fingerprint, make_dataset,
)
