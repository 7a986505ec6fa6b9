"""The benchmark scripts' own command lines (their figures come from running them, not from tests)."""

import pytest


def test_a_benchmark_stops_at_the_applications_one_line_error(tmp_path, capsys):
    """The app's error (here: too few rows for one window) was followed by a StopIteration traceback from the
    benchmark looking for the metrics.json that run did not write."""
    from benchmarks import forecasting

    csv = tmp_path / "series.csv"
    csv.write_text("date,a,b\n" + "".join(f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00,{i},{-i}\n" for i in range(72)))
    with pytest.raises(SystemExit, match="the benchmark stopped: the application exited with code 2 on .*--lookback"):
        forecasting.main(["--data", str(csv), "--models", "dlinear"])
    err = capsys.readouterr().err
    assert "benchmark: error: the train part has 43 rows, too few for one window" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("module", ["forecasting", "sentiment"])
def test_a_models_name_the_application_does_not_offer_is_refused_first(module, capsys):
    """It was refused by the application after the other models (or minutes of baselines) had run."""
    import importlib

    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"benchmarks.{module}").main(["--models", "lstm", "typo"])
    assert exit_.value.code == 2
    assert "--models: --model typo is not offered by" in capsys.readouterr().err


@pytest.mark.parametrize("module, option", [("digits", "--pairs"), ("zoo", "--vae-epochs"), ("forecasting", "--epochs"),
                                            ("sentiment", "--epochs"), ("compression", "--epochs"),
                                            ("generation", "--epochs"), ("images", "--pairs"),
                                            ("pipeline", "--steps"), ("transfer", "--seeds"),
                                            ("graphs", "--seeds"), ("ensembles", "--members")])
def test_benchmark_counts_must_be_positive(module, option, capsys):
    import importlib

    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"benchmarks.{module}").main([option, "0"])
    assert exit_.value.code == 2
    assert f"argument {option}: must be 1 or more, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["compression", "digits", "ensembles", "forecasting", "generation", "graphs",
                                    "images", "pipeline", "sentiment", "serving", "transfer", "tuning", "zoo"])
def test_benchmark_help_prints_usage_without_running_it(module, capsys):
    """The tuning and serving benchmarks had no options: --help started a sweep of several minutes."""
    import importlib

    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"benchmarks.{module}").main(["--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


def test_importing_a_benchmark_does_not_quiet_tensorflow():
    """Only entry points quiet TensorFlow; six benchmark modules did it on import."""
    import subprocess
    import sys

    from conftest import ROOT

    modules = ", ".join(f"benchmarks.{name}" for name in ("compression", "digits", "forecasting", "generation",
                                                           "sentiment", "serving", "tuning", "zoo"))
    script = ("import sys, zoo.startup; zoo.startup.quiet_tensorflow = lambda: sys.exit('quieted on import'); "
              f"import {modules}")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_first_layers_kernels_are_counted_without_the_input_gradient_training_skips():
    """conv_1 is the model's first layer: training computes no gradient for its input, so timing one would
    overstate the kernels' lower bound on the step (and their FLOPs: 2x the forward pass, not 3x)."""
    import keras

    from benchmarks.digits import conv_kernels_alone
    from benchmarks.flops import flops_of

    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
    keras.Model(inputs, conv(inputs))
    full = conv_kernels_alone(conv, batch_size=2, dtype="float32", steps=2, rounds=1)
    first = conv_kernels_alone(conv, batch_size=2, dtype="float32", input_gradient=False, steps=2, rounds=1)
    assert (full["input_gradient"], first["input_gradient"]) == (True, False)
    assert full["training_flops_per_step"] == 3 * 2 * flops_of(conv)
    assert first["training_flops_per_step"] == 2 * 2 * flops_of(conv)
    assert first["ms_per_step"] > 0


def test_training_flops_leave_out_the_first_layers_input_gradient():
    """The convnet on 28x28x1 ("same" padding): conv_1 451,584 + conv_2 7,225,344 + logits 62,720 forward FLOPs.
    Training is 3x that, less one forward pass of conv_1, whose input gradient is never computed; the same
    behind a Rescaling layer, with the convnet nested in the model as the digits app builds it."""
    import keras

    import zoo
    from benchmarks.flops import forward_flops, training_flops

    convnet = zoo.build("convnet", input_shape=(28, 28, 1), classes=10)
    assert forward_flops(convnet) == 451_584 + 7_225_344 + 62_720
    assert training_flops(convnet) == 3 * forward_flops(convnet) - 451_584
    inputs = keras.Input((28, 28, 1))
    nested = keras.Model(inputs, convnet(keras.layers.Rescaling(1 / 255)(inputs)))
    assert training_flops(nested) == training_flops(convnet)
