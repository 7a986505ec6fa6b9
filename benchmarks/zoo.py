"""Quality of the zoo's unsupervised and generative models on real data, against classical baselines.

    python -m benchmarks.zoo              # or: make benchmark-zoo

Data: scikit-learn's 8x8 digits (1,797 real images), split 80/20 stratified
with seed 0. Every baseline is measured in the same run.

(a) ``linear_autoencoder`` (10 units) against ``sklearn.decomposition.PCA(10)``
    on the centred digits: reconstruction MSE and the largest principal angle
    between the decoder's column space and PCA's components.
(b) ``vae`` (latent_dim 2) against PCA(2): reconstruction MSE of the held-out
    digits (pixels in [0, 1]); the VAE reconstructs from ``z_mean``.
(c) Class-conditional ``dcgan`` and ``wgan_gp``: 100 images per class are
    labelled by an RBF SVC trained on the real training digits; the score is
    the fraction labelled as the class they were asked for (chance: 0.10; the
    SVC's accuracy on real held-out digits is the ceiling). Also seconds per
    epoch of each GAN.

Prints a table, writes benchmarks/results/zoo.json and sample grids
(benchmarks/results/*.png).
"""

from __future__ import annotations

if __name__ == "__main__":  # an entry point: quiet TensorFlow before Keras loads it
    from zoo.startup import quiet_tensorflow

    quiet_tensorflow()

import argparse
import json
import pathlib
import platform
import time

import keras
import matplotlib
import numpy as np
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import zoo  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def digits_split(seed=0):
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]  # [n, 8, 8, 1] in [0, 1]
    return train_test_split(images, digits.target, test_size=0.2, stratify=digits.target, random_state=seed)


def linear_autoencoder_vs_pca(epochs):
    x = load_digits().data / 16.0
    x = (x - x.mean(axis=0)).astype("float32")
    pca = PCA(10).fit(x)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(x)) - x) ** 2))
    keras.utils.set_random_seed(0)
    model = zoo.build("linear_autoencoder", input_shape=(64,), latent_dim=10)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    schedule = keras.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=5, min_lr=1e-6)
    model.fit(x, x, epochs=epochs, batch_size=32, verbose=0, callbacks=[schedule])
    mse = float(np.mean((np.asarray(model(x)) - x) ** 2))
    columns = model.get_layer("decoder").get_layer("reconstruction").kernel.numpy().T
    angle = float(np.degrees(subspace_angles(columns, pca.components_.T)).max())
    return {"linear_ae_mse": mse, "pca10_mse": pca_mse, "mse_ratio": mse / pca_mse,
            "max_principal_angle_degrees": angle, "epochs": epochs}


def vae_vs_pca(x_train, x_test, epochs):
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    pca = PCA(2).fit(flat_train)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(flat_test)) - flat_test) ** 2))
    keras.utils.set_random_seed(0)
    model = zoo.build("vae", input_shape=(8, 8, 1), latent_dim=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    # Early stopping watches a validation split of the training images; the test images are
    # touched only for the reported figure.
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x_train))
    cut = len(x_train) // 10
    x_fit, x_val = x_train[order[cut:]], x_train[order[:cut]]
    start = time.perf_counter()
    history = model.fit(x_fit, epochs=epochs, batch_size=64, verbose=0,
                        validation_data=(x_val,), callbacks=[
                            keras.callbacks.ReduceLROnPlateau(patience=10, factor=0.5),
                            keras.callbacks.EarlyStopping(patience=30, restore_best_weights=True)])
    seconds = time.perf_counter() - start
    vae_mse = float(np.mean((np.asarray(model(x_test)) - x_test) ** 2))
    save_grid(model.sample(40, seed=0), RESULTS / "vae_samples.png", "VAE: decoded draws from N(0, I)")
    return {"vae_mse": vae_mse, "pca2_mse": pca_mse, "vae_over_pca": vae_mse / pca_mse,
            "epochs": len(history.epoch), "train_seconds": round(seconds, 1),
            "parameters": model.count_params()}


def gan_label_agreement(name, x_train, y_train, classifier, epochs):
    keras.utils.set_random_seed(0)
    model = zoo.build(name, input_shape=(8, 8, 1), latent_dim=32, classes=10, seed=0)
    model.compile()
    start = time.perf_counter()
    model.fit(x_train * 2 - 1, y_train, epochs=epochs, batch_size=64, verbose=0)
    seconds = time.perf_counter() - start
    labels = np.repeat(np.arange(10), 100)
    images = model.sample(len(labels), labels=labels, seed=1)
    predicted = classifier.predict((images.reshape(len(images), -1) + 1) / 2)
    save_grid(model.sample(40, labels=np.tile(np.arange(10), 4), seed=2), RESULTS / f"{name}_samples.png",
              f"{name}, class-conditional: columns are digits 0-9")
    return {"label_agreement": float(np.mean(predicted == labels)), "epochs": epochs,
            "seconds_per_epoch": round(seconds / epochs, 2), "parameters": model.count_params()}


def save_grid(images, path, title, columns=10):
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.8, rows * 0.8 + 0.4))
    low = -1.0 if images.min() < 0 else 0.0
    for axis, image in zip(axes.flat, images):
        axis.imshow(image[..., 0], cmap="gray_r", vmin=low, vmax=1.0)
    for axis in axes.flat:
        axis.axis("off")
    figure.suptitle(title, fontsize=9)
    figure.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(figure)


def main(argv=None):
    from applications.kit.cli import positive_int

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae-epochs", type=positive_int, default=300)
    parser.add_argument("--gan-epochs", type=positive_int, default=100)
    parser.add_argument("--linear-epochs", type=positive_int, default=150)
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)

    x_train, x_test, y_train, y_test = digits_split()
    classifier = SVC(gamma="scale").fit(x_train.reshape(len(x_train), -1), y_train)
    ceiling = float(classifier.score(x_test.reshape(len(x_test), -1), y_test))
    results = {
        "command": "python -m benchmarks.zoo " + " ".join(argv or []),
        "machine": {"processor": platform.processor() or platform.machine(), "keras": keras.__version__},
        "linear_autoencoder": linear_autoencoder_vs_pca(args.linear_epochs),
        "vae": vae_vs_pca(x_train, x_test, args.vae_epochs),
        "svc_accuracy_on_real_test_digits": ceiling,
        "dcgan": gan_label_agreement("dcgan", x_train, y_train, classifier, args.gan_epochs),
        "wgan_gp": gan_label_agreement("wgan_gp", x_train, y_train, classifier, args.gan_epochs),
    }
    (RESULTS / "zoo.json").write_text(json.dumps(results, indent=2) + "\n")

    linear, vae = results["linear_autoencoder"], results["vae"]
    rows = [
        ("linear_autoencoder(10) vs PCA(10), MSE on centred digits",
         f"{linear['linear_ae_mse']:.5f} vs {linear['pca10_mse']:.5f} (x{linear['mse_ratio']:.4f}); "
         f"largest principal angle {linear['max_principal_angle_degrees']:.1f} deg"),
        ("vae(latent 2) vs PCA(2), held-out reconstruction MSE",
         f"{vae['vae_mse']:.4f} vs {vae['pca2_mse']:.4f} (x{vae['vae_over_pca']:.2f}); "
         f"{vae['epochs']} epochs, {vae['train_seconds']} s"),
    ]
    for name in ("dcgan", "wgan_gp"):
        gan = results[name]
        rows.append((f"{name}, class-conditional: generated digits the SVC labels as asked",
                     f"{gan['label_agreement']:.3f} (chance 0.100, SVC on real digits {ceiling:.3f}); "
                     f"{gan['epochs']} epochs, {gan['seconds_per_epoch']} s/epoch"))
    print("| measurement | value |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print(f"\nWrote {RESULTS / 'zoo.json'} and sample grids in {RESULTS}")


if __name__ == "__main__":
    main()
