"""The builders use keras.layers and keras.ops only: every one builds and runs on the JAX backend."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

# find_spec, not an import: the check runs in a subprocess with KERAS_BACKEND=jax.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="the JAX backend check needs jax (declared in the test extra)")

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    from sklearn.datasets import load_digits
    sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
    import zoo
    from conftest import random_inputs

    failures = {}
    for name in zoo.names():
        kwargs = {"input_shape": (32, 32, 3), "classes": 10} if name.startswith("resnet") else {}
        try:
            model = zoo.build(name, **kwargs)
            assert np.isfinite(np.asarray(model(random_inputs(model), training=False))).all()
        except Exception as error:  # reported, not raised: the test lists every failure
            failures[name] = repr(error)[:300]

    # The VAE trains through compute_loss, so fit works on JAX too.
    images = (load_digits().images / 16.0).astype("float32")[..., None]
    keras.utils.set_random_seed(0)
    vae = zoo.build("vae", input_shape=(8, 8, 1), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = vae.evaluate(images, batch_size=64, verbose=0, return_dict=True)
    vae.fit(images, epochs=1, batch_size=64, verbose=0)
    after = vae.evaluate(images, batch_size=64, verbose=0, return_dict=True)
    print(json.dumps({"backend": keras.backend.backend(), "failures": failures, "built": len(zoo.names()),
                      "vae_before": before, "vae_after": after}))
""")


@pytest.mark.slow  # every builder on a second backend: ~60-90 s of per-op JAX compilation
def test_every_builder_runs_on_jax_and_the_vae_trains(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax"
    assert report["failures"] == {}
    assert report["vae_after"]["loss"] < 0.95 * report["vae_before"]["loss"], report
    assert report["vae_after"]["kl_loss"] > 0, report
