"""The course studies: each claim measured on a small configuration; the command writes its report."""

import json

import keras
import numpy as np

import zoo
from conftest import assert_one_line_error, run_in_process


def test_list_names_every_study(capsys):
    from applications.studies import STUDIES, main

    code, out, err = run_in_process(main, "--list", capsys=capsys)
    assert code == 0
    assert [line.split()[0] for line in out.strip().splitlines()] == list(STUDIES)
    assert list(STUDIES) == ["perceptron", "activations", "initialisation", "optimisers", "weight-decay",
                             "learning-rate", "regularisation", "capacity", "ensembles"]  # the course's order
    code, out, err = run_in_process(main, "typo", capsys=capsys)
    assert_one_line_error(code, err, "no study named 'typo': choose one of perceptron")


def test_perceptron_study_writes_its_report_and_the_claims_hold(tmp_path, capsys):
    from applications.studies import main

    code, out, err = run_in_process(main, "perceptron", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    run_dir = next((tmp_path / "studies" / "perceptron").glob("2*"))
    report = (run_dir / "report.md").read_text()
    assert "**Question.**" in report and "![perceptron.png](perceptron.png)" in report
    assert (run_dir / "perceptron.png").read_bytes()[:4] == b"\x89PNG"
    assert (run_dir / "results.csv").read_text().startswith("epoch,mistakes,problem")
    measures = json.loads((run_dir / "measures.json").read_text())
    assert measures["total_mistakes"] <= measures["novikoff_bound"]  # Novikoff's theorem
    assert not measures["xor_converged"] and measures["xor_last_epoch_mistakes"] > 0
    assert measures["mlp_xor_accuracy"] == 1.0
    assert f"{measures['total_mistakes']} mistakes in all" in report  # the answer is computed, not canned


def test_gradients_vanish_through_sigmoid_and_not_through_relu():
    """Measured at initialisation on the 8x8 digits (seed 0): sigmoid/Glorot 1.7e-6, ReLU/He 0.75; the thresholds
    (0.1 and a factor of 10) leave orders of magnitude of margin."""
    from applications.studies.registry import digits_split, gradient_norms

    x, y, _, _ = digits_split(0)
    ratios = {}
    for activation, initializer in (("sigmoid", "glorot"), ("relu", "he")):
        keras.utils.set_random_seed(0)
        model = zoo.build("mlp", input_shape=(64,), classes=10, depth=10, width=64, activation=activation,
                          initializer=initializer)
        norms = gradient_norms(model, x[:256], y[:256])
        ratios[activation] = norms[0] / norms[-1]
    assert ratios["sigmoid"] < 0.1
    assert 0.1 < ratios["relu"] < 10


def test_zero_initialisation_leaves_the_units_of_a_layer_identical_after_training():
    from applications.studies.registry import digits_split

    x, y, _, _ = digits_split(0)
    keras.utils.set_random_seed(0)
    model = zoo.build("mlp", input_shape=(64,), classes=10, depth=2, width=16, activation="tanh",
                      initializer="zeros")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    for name in ("dense_1", "dense_2"):
        kernel = np.asarray(model.get_layer(name).kernel)
        np.testing.assert_array_equal(kernel, np.repeat(kernel[:, :1], kernel.shape[1], axis=1))
    glorot = zoo.build("mlp", input_shape=(64,), classes=10, depth=2, width=16, activation="tanh")
    kernel = np.asarray(glorot.get_layer("dense_2").kernel)
    assert not np.allclose(kernel, kernel[:, :1])


def test_momentum_speeds_sgd_up_and_nesterov_ends_nearest_rosenbrocks_minimum():
    """Measured over 20 epochs: SGD never reached a training loss of 0.1, momentum in 6 epochs; after 5 epochs
    (checked here) momentum's loss is well under SGD's. On Rosenbrock after 300 steps: SGD 5.05, momentum
    0.034, Nesterov 0.011."""
    from applications.studies.optimisation import OPTIMISERS, rosenbrock_path
    from applications.studies.registry import digits_split

    x, y, _, _ = digits_split(0)
    losses = {}
    for name in ("SGD", "momentum"):
        keras.utils.set_random_seed(0)
        model = zoo.build("mlp", input_shape=(64,), classes=10, depth=2, width=64)
        model.compile(optimizer=OPTIMISERS[name](0.05), loss="sparse_categorical_crossentropy")
        losses[name] = model.fit(x, y, epochs=5, batch_size=64, verbose=0).history["loss"][-1]
    assert losses["momentum"] < 0.5 * losses["SGD"]
    finals = {name: rosenbrock_path(lambda: OPTIMISERS[name](1e-3))[1] for name in ("SGD", "momentum", "Nesterov")}
    assert finals["Nesterov"] < finals["momentum"] < finals["SGD"]


def test_an_ensemble_is_at_least_as_accurate_as_its_mean_member(tmp_path):
    """Measured with 5 members of 40 epochs (the study's default): seeds 0.978 against 0.973, bagging 0.978
    against 0.966, snapshot 0.982 against 0.979."""
    import argparse

    from applications.studies.generalisation import ensembles_study

    args = argparse.Namespace(seed=0, members=3, epochs=9)
    table, figures, answer, setting, measures = ensembles_study(args, tmp_path)
    for kind in ("seeds", "bagging", "snapshot"):
        assert measures[f"ensemble_{kind}"] >= measures[f"mean_member_{kind}"]
    assert (tmp_path / "ensembles.png").exists() and "k-nearest neighbours scores" in answer


def test_l2_is_decoupled_decay_for_sgd_and_not_for_adam():
    """The weight-decay study's claim: with SGD an L2 penalty of l2 = strength / 2 and decoupled decay of that
    strength give the same weights (float rounding apart); with Adam they differ. Measured after 3 epochs at
    0.1: SGD 9e-7, Adam 0.95 (largest difference over the largest weight), hidden-kernel norms 12.1 (Adam + L2)
    against 16.1 (AdamW); the thresholds leave margins of 100x and 9x."""
    from applications.studies.optimisation import WEIGHT_DECAY_RATES, decoupled, train_with_norms
    from applications.studies.registry import digits_split

    data = digits_split(0)
    differences, norms = {}, {}
    for family in ("sgd", "adam"):
        runs = {}
        for method in ("L2 penalty", "decoupled"):
            keras.utils.set_random_seed(0)
            model = zoo.build("mlp", input_shape=(64,), classes=10, depth=2, width=64,
                              l2=0.05 if method == "L2 penalty" else 0.0)
            optimizer = decoupled(family, WEIGHT_DECAY_RATES[family], 0.1 if method == "decoupled" else 0.0, model)
            norms[family, method], _, runs[method] = train_with_norms(model, optimizer, data, 3)
        differences[family] = max(np.abs(a - b).max() / np.abs(a).max()
                                  for a, b in zip(runs["L2 penalty"], runs["decoupled"]))
    assert differences["sgd"] < 1e-4
    assert differences["adam"] > 0.1
    assert norms["adam", "L2 penalty"][-1] < norms["adam", "decoupled"][-1]  # Adam + L2 shrinks far harder here


def test_sgd_diverges_unclipped_and_trains_with_its_gradient_norm_clipped():
    """Measured at rate 1.0 on a 6-layer MLP: unclipped NaN at batch 6; clipped to norm 1, loss 2.12 -> 1.07 in
    3 epochs. And the range test's loss has its minimum inside the range (at 0.36, smoothed 0.76) and blows up
    past it (4.2 among the last 40 batches)."""
    from applications.kit.optimisation import OptimiserSettings, make_optimizer
    from applications.studies.optimisation import CLIP_RATE, range_test
    from applications.studies.registry import digits_split

    x, y, _, _ = digits_split(0)
    losses = {}
    for clip in (None, 1.0):
        keras.utils.set_random_seed(0)
        model = zoo.build("mlp", input_shape=(64,), classes=10, depth=6, width=64)
        settings = OptimiserSettings(optimizer="sgd", learning_rate=CLIP_RATE, schedule="constant", clip_norm=clip)
        model.compile(optimizer=make_optimizer(settings, steps_per_epoch=22, epochs=3),
                      loss="sparse_categorical_crossentropy")
        losses[clip] = model.fit(x, y, epochs=3, batch_size=64, verbose=0,
                                 callbacks=[keras.callbacks.TerminateOnNaN()]).history["loss"]
    assert len(losses[None]) == 1 and not np.isfinite(losses[None][0])
    assert np.isfinite(losses[1.0]).all() and losses[1.0][-1] < 0.67 * losses[1.0][0]
    keras.utils.set_random_seed(0)
    found = range_test(zoo.build("mlp", input_shape=(64,), classes=10, depth=2, width=64), x, y)
    smooth = found["loss"].ewm(alpha=0.1).mean()
    best = found["rate"][smooth.idxmin()]
    assert 1e-3 < best < 3 and smooth.iloc[-40:].max() > 2 * smooth.min()


def test_l1_leaves_more_near_zero_weights_than_l2_and_early_stopping_keeps_the_lower_validation_loss():
    """On 20 digits per class (the regularisation study's setting), 40 epochs. Measured: near-zero shares L1 0.375,
    L2 0.132, none 0.007; validation cross-entropy none 0.362, early stopping 0.340 (its best epoch's weights,
    so never above the last epoch's)."""
    from sklearn.metrics import log_loss

    from applications.studies.generalisation import near_zero_share, stratified_subset
    from applications.studies.registry import digits_split

    x, y, _, _ = digits_split(0)
    train = stratified_subset(x, y, 20, 0)
    validation = stratified_subset(x, y, 20, 1, exclude=train)
    shares, entropy = {}, {}
    for name, arguments, callbacks in (("none", {}, []), ("L1", {"l1": 1e-4}, []), ("L2", {"l2": 1e-3}, []),
                                       ("early stopping", {}, [keras.callbacks.EarlyStopping(
                                           patience=10, restore_best_weights=True)])):
        keras.utils.set_random_seed(0)
        model = zoo.build("mlp", input_shape=(64,), classes=10, depth=2, width=256, **arguments)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        model.fit(x[train], y[train], validation_data=(x[validation], y[validation]), epochs=40, batch_size=32,
                  verbose=0, callbacks=callbacks)
        shares[name] = near_zero_share(model)
        entropy[name] = log_loss(y[validation], model.predict(x[validation], verbose=0), labels=range(10))
    assert shares["L1"] > 2 * shares["L2"] > 2 * shares["none"]
    assert entropy["early stopping"] < entropy["none"]


def test_a_narrow_mlp_underfits_and_a_small_training_set_overfits():
    """The capacity study's claims at 10 epochs. Measured: width 1 training error 0.82, width 128 0.019;
    with 20 training images the test-training gap is 0.38, with all 1,347 0.018."""
    from applications.studies.generalisation import error_rates
    from applications.studies.registry import digits_split

    x, y, x_test, y_test = digits_split(0)
    errors = {}
    for width in (1, 128):
        keras.utils.set_random_seed(0)
        model = zoo.build("mlp", input_shape=(64,), classes=10, depth=1, width=width)
        errors["width", width] = error_rates(model, (x, y, x_test, y_test), 10, 0)
    for size in (20, len(y)):
        keras.utils.set_random_seed(0)
        model = zoo.build("mlp", input_shape=(64,), classes=10, depth=1, width=128)
        errors["size", size] = error_rates(model, (x[:size], y[:size], x_test, y_test), 10, 0)
    assert errors["width", 1][0] > 0.3 and errors["width", 128][0] < 0.05
    gap = {size: errors["size", size][1] - errors["size", size][0] for size in (20, len(y))}
    assert gap[20] > gap[len(y)] + 0.2


def test_data_runs_a_study_on_other_images_and_refuses_what_it_cannot_use(tmp_path, capsys):
    """--data: a study on an NPZ of 28x28 images with its own test part (here the 8x8 digits padded), named in
    the report; the perceptron (its own toy sets) and data that are not images are one-line errors."""
    from sklearn.datasets import load_digits

    from applications.studies import main

    digits = load_digits()
    images = np.pad(np.round(digits.images * 255 / 16).astype("uint8"), ((0, 0), (10, 10), (10, 10)))
    np.savez(tmp_path / "padded.npz", x_train=images[:1400], y_train=digits.target[:1400], x_test=images[1400:],
             y_test=digits.target[1400:])
    code, out, err = run_in_process(main, "capacity", "--data", tmp_path / "padded.npz", "--epochs", "2",
                                    "--train-size", "500", "--output", tmp_path, capsys=capsys)
    assert code == 0, err
    run_dir = next((tmp_path / "studies" / "capacity").glob("2*"))
    assert f"NPZ file {tmp_path / 'padded.npz'} (500 training, 397 test images)" in (run_dir / "report.md").read_text()
    measures = json.loads((run_dir / "measures.json").read_text())
    assert "size_500_test_error" in measures and "size_1347_test_error" not in measures
    code, out, err = run_in_process(main, "perceptron", "--data", tmp_path / "padded.npz", capsys=capsys)
    assert_one_line_error(code, err, "perceptron runs on its own sets (iris, XOR); drop --data")
    np.savez(tmp_path / "vectors.npz", x=np.zeros((20, 5)), y=np.arange(20) % 2)
    code, out, err = run_in_process(main, "capacity", "--data", tmp_path / "vectors.npz", capsys=capsys)
    assert_one_line_error(code, err, "the studies need labelled images")
