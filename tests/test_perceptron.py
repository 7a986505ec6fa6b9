import numpy as np
import pytest
from sklearn.datasets import load_digits

import zoo
from zoo.perceptron import ConvergenceWarning

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
XOR_Y = np.array([-1, 1, 1, -1])


def digits_zero_vs_one():
    digits = load_digits()
    keep = digits.target < 2
    return digits.data[keep].astype("float32"), np.where(digits.target[keep] == 1, 1, -1)


def test_converges_on_linearly_separable_real_digits():
    x, y = digits_zero_vs_one()
    model = zoo.build("perceptron", input_shape=(64,))
    model.compile()
    history = model.fit(x, y, epochs=100, batch_size=32, verbose=0)
    assert model.converged
    assert history.history["mistakes"][-1] == 0
    assert len(history.epoch) < 100  # stopped at the first epoch without a mistake
    predictions = model.predict(x, verbose=0)[:, 0]
    assert set(np.unique(predictions)) <= {-1.0, 1.0}
    assert (predictions == y).mean() == 1.0


def test_applies_rosenblatts_rule_exactly():
    """One online pass, checked against the rule written out in NumPy."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    y = np.where(rng.random(20) > 0.5, 1, -1)
    model = zoo.build("perceptron", input_shape=(3,), learning_rate=0.5)
    with pytest.warns(ConvergenceWarning):  # one epoch is not enough here
        model.fit(x, y, epochs=1, batch_size=7, shuffle=False, verbose=0)

    w, b = np.zeros(3), 0.0
    for xi, yi in zip(x, y):
        if (1 if xi @ w + b > 0 else -1) != yi:
            w, b = w + 0.5 * yi * xi, b + 0.5 * yi
    np.testing.assert_allclose(model.kernel.numpy()[:, 0], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.bias.numpy()[0], b, rtol=1e-5, atol=1e-6)


def test_does_not_converge_on_xor_and_says_so():
    model = zoo.build("perceptron", input_shape=(2,))
    with pytest.warns(ConvergenceWarning, match="did not converge in 50 epochs"):
        history = model.fit(XOR_X, XOR_Y, epochs=50, verbose=0)
    assert model.converged is False
    assert len(history.epoch) == 50
    assert (model.predict(XOR_X, verbose=0)[:, 0] == XOR_Y).mean() < 1.0


def test_step_output_and_zero_one_labels():
    x, y = digits_zero_vs_one()
    model = zoo.build("perceptron", input_shape=(64,), output="step")
    model.fit(x, (y > 0).astype(int), epochs=100, verbose=0)
    assert set(np.unique(model.predict(x, verbose=0))) == {0.0, 1.0}


def test_saves_and_reloads(tmp_path):
    import keras

    x, y = digits_zero_vs_one()
    model = zoo.build("perceptron", input_shape=(64,))
    model.fit(x, y, epochs=100, verbose=0)
    model.save(tmp_path / "p.keras")
    again = keras.saving.load_model(tmp_path / "p.keras", safe_mode=True)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("x, y, message", [
    (np.ones((4, 3)), np.array([0, 1, 0, 1]), r"x has shape \(4, 3\); expected \[samples, 2\]"),
    (np.zeros((0, 2)), np.zeros(0), "x is empty"),
    (np.array([["a", "b"], ["c", "d"]]), np.array([0, 1]), "x has dtype <U1; expected numbers"),
    (np.array([[0, 1], [np.nan, 0], [1, 1]]), np.array([0, 1, 0]), "NaN or infinite values in 1 samples"),
    (XOR_X, np.array([0, 1, 1]), r"y has shape \(3,\); expected one label per sample: \[4\]"),
    (XOR_X, np.array([1, 2, 2, 1]), r"y has the values \[1, 2\]; expected labels in \{0, 1\} or \{-1, \+1\}"),
    (XOR_X, np.zeros(4), "every label is 0.0; the perceptron needs samples of both classes"),
])
def test_bad_arrays_are_a_clear_error(x, y, message):
    model = zoo.build("perceptron", input_shape=(2,))
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, epochs=1, verbose=0)


def test_a_dataset_is_taken_as_it_is():
    import tensorflow as tf

    model = zoo.build("perceptron", input_shape=(2,))
    with pytest.warns(ConvergenceWarning):
        model.fit(tf.data.Dataset.from_tensor_slices((XOR_X, XOR_Y)).batch(4), epochs=1, shuffle=False, verbose=0)
    assert model.last_epoch_mistakes > 0
