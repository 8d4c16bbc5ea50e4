"""Where does the shipped SRGAN's 4-pixel grid come from? (issue 19)

1. Sub-pixel kernels: for each upsampling convolution of the shipped SRResNet and SRGAN,
   how much its 4 sub-pixel kernels differ (RMS of each minus their mean, relative to
   the mean's RMS: 0 for ICNR's start, about sqrt(3) = 1.73 for plain initialisation).
2. Swaps: grid strength on Set5 of SRGAN with one layer group taken from SRResNet (and
   the reverse), to find which layers the adversarial stage changed to paint the grid.
3. D's gradient: the phase pattern (period 2, 4, 8, 16) of the adversarial loss's
   gradient with respect to the image, for a freshly initialised discriminator on HR
   crops of Set5/Set14: spread of the per-phase means relative to the gradient's RMS
   (about 1/sqrt(cells) when the gradient has no periodic part).

    python bench/grid_causes.py --data-dir ../shared/data/benchmarks   # ~1 min on CPU

Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srgan_lib import data, downloads, inference, losses, metrics, models  # noqa: E402


def subpixel_spread(kernel: np.ndarray) -> float:
    """RMS of the 4 sub-pixel kernels' deviation from their mean / RMS of the mean."""
    groups = kernel.reshape(*kernel.shape[:-1], 4, kernel.shape[-1] // 4)
    mean = groups.mean(axis=-2, keepdims=True)
    return float(np.sqrt(np.mean((groups - mean) ** 2)) / np.sqrt(np.mean(mean**2)))


def set_grid(generator, pairs) -> float:
    return float(
        np.mean([metrics.grid_strength(inference.upscale(generator, p.lr)) for p in pairs])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="folder holding Set5/HR, ... (default: found)")
    args = parser.parse_args()
    root = Path(args.data_dir or downloads.find_benchmarks() or downloads.data_dir())
    srresnet, srgan = models.pretrained("srresnet"), models.pretrained("srgan")

    print("| layer | SRResNet sub-pixel spread | SRGAN sub-pixel spread | plain init | ICNR init |")
    print("| --- | ---: | ---: | ---: | ---: |")
    keras.utils.set_random_seed(0)
    plain, icnr = models.build_generator(icnr=False), models.build_generator()
    for layer in ("up1_conv", "up2_conv"):
        spreads = [
            subpixel_spread(keras.ops.convert_to_numpy(m.get_layer(layer).kernel))
            for m in (srresnet, srgan, plain, icnr)
        ]
        print(f"| {layer} | " + " | ".join(f"{s:.3f}" for s in spreads) + " |")

    pairs = data.load_benchmark("Set5", root)
    groups = {
        "upsampling convs": ("up1_conv", "up2_conv"),
        "upsampling blocks (conv + PReLU)": ("up1_conv", "up1_prelu", "up2_conv", "up2_prelu"),
        "tail conv": ("tail_conv",),
        "head + residual + body": tuple(
            layer.name
            for layer in srresnet.layers
            if layer.weights and layer.name.startswith(("head", "res", "body"))
        ),
    }
    print("\n| Set5 grid strength (grey levels) | SRGAN with it from SRResNet ", end="")
    print("| SRResNet with it from SRGAN |")
    print("| --- | ---: | ---: |")
    print(f"| none swapped | {set_grid(srgan, pairs):.3f} | {set_grid(srresnet, pairs):.3f} |")
    for title, names in groups.items():
        cells = []
        for base, donor in ((srgan, srresnet), (srresnet, srgan)):
            hybrid = models.build_generator()
            hybrid.set_weights(base.get_weights())
            for name in names:
                hybrid.get_layer(name).set_weights(donor.get_layer(name).get_weights())
            cells.append(set_grid(hybrid, pairs))
        print(f"| {title} | {cells[0]:.3f} | {cells[1]:.3f} |")

    crops = []
    for set_name in ("Set5", "Set14"):
        for pair in data.load_benchmark(set_name, root):
            h, w = pair.hr.shape[:2]
            crops += [
                pair.hr[t : t + 96, s : s + 96]
                for t in range(0, h - 95, 96)
                for s in range(0, w - 95, 96)
            ]
    hr = data.to_hr_target(np.stack(crops))
    hr = keras.ops.convert_to_tensor(hr.astype("float32"))
    print(f"\n| D's gradient, {len(crops)} HR crops 96x96 ", end="")
    print("| period 2 | period 4 | period 8 | period 16 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        discriminator = models.build_discriminator()
        grad = _input_gradient(discriminator, hr)
        cells = []
        for period in (2, 4, 8, 16):
            ratios = []
            for g in grad:
                band = g.mean(axis=-1)
                ratios.append(metrics.phase_means(band, period).std() / band.std())
            cells.append(float(np.mean(ratios)))
        floor = [1 / np.sqrt(96 * 96 / p**2) for p in (2, 4, 8, 16)]
        print(f"| random D, seed {seed} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    print("| no periodic part (1/sqrt(cells)) | " + " | ".join(f"{f:.3f}" for f in floor) + " |")


def _input_gradient(discriminator, images) -> np.ndarray:
    """d(-log D(x))/dx, the generator's adversarial gradient at x, as (B, H, W, 3)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = losses.generator_adversarial_loss(discriminator(images, training=False))
        return tape.gradient(loss, images).numpy()
    import jax

    def loss(x):
        return losses.generator_adversarial_loss(discriminator(x, training=False))

    return np.asarray(jax.grad(loss)(images))


if __name__ == "__main__":
    main()
