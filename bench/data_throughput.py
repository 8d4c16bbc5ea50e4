"""How fast does the training feed make LR/HR crop pairs? (Not a test: prints a table.)

    python bench/data_throughput.py                      # 2K images made from the samples
    python bench/data_throughput.py --folder DIV2K_train_HR --limit 50
    python bench/data_throughput.py --fit                # also end-to-end SRResNet steps

Target (issue 4): at least 3,000 pairs/s (96x96 HR, x4) on 2 CPU cores, enough to feed a
GPU step of 16 patches every 7 ms. `--fit` times `generator.fit` fed by the
`CropDataset` against the same steps on one fixed batch, to show whether the feed or the
model sets the pace.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from srgan_lib import data


def make_2k_folder(folder: Path, count: int) -> Path:
    """`count` 2040x1356 images: the sample photographs resized up, like DIV2K's size."""
    samples = list(data.sample_images().values())
    for i in range(count):
        image = Image.fromarray(samples[i % len(samples)]).resize((2040, 1356))
        image.save(folder / f"{i:04d}.png")
    return folder


def pairs_per_second(feed: data.CropDataset, seconds: float, threads: int) -> float:
    """Crop pairs per second over about `seconds`, batches made by `threads` threads."""
    feed[0]
    done, index, start = 0, 0, time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        while time.perf_counter() - start < seconds:
            batches = list(pool.map(feed.__getitem__, range(index, index + 4 * threads)))
            index += len(batches)
            done += sum(len(lr) for lr, _ in batches)
    return done / (time.perf_counter() - start)


class OneBatch(data.CropDataset):
    """The feed's first batch, over and over: training with no feeding cost."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "batch"):
            self.batch = super().__getitem__(0)
        return self.batch


def fit_patches_per_second(feed: data.CropDataset, steps: int) -> float:
    """HR patches per second of SRResNet MSE training (16 blocks) fed by `feed`."""
    import keras

    from srgan_lib import models

    generator = models.build_generator()
    generator.compile(keras.optimizers.Adam(1e-4, beta_1=0.9), loss="mse")
    generator.fit(feed, epochs=1, steps_per_epoch=2, verbose=0)  # compile
    start = time.perf_counter()
    generator.fit(feed, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * feed.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="folder of HR images (default: make 2K images)")
    parser.add_argument("--limit", type=int, default=8, help="images to load")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--fit", action="store_true", help="also time end-to-end training")
    parser.add_argument("--fit-steps", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="PyDataset workers in --fit")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else make_2k_folder(Path(tmp), args.limit)
        start = time.perf_counter()
        pairs = data.load_training_pairs(folder, scale=4, limit=args.limit)
        load_seconds = time.perf_counter() - start
    feed = data.CropDataset(pairs, batch_size=args.batch_size, steps_per_epoch=10**6)
    megapixels = sum(p.hr.shape[0] * p.hr.shape[1] for p in pairs) / 1e6
    print(
        f"loaded {len(pairs)} images ({megapixels:.1f} MP) and made their LR in "
        f"{load_seconds:.1f} s ({load_seconds / len(pairs):.2f} s per image)\n"
    )
    print("| feed | pairs/s (96x96 HR, x4) |")
    print("| --- | ---: |")
    for threads in (1, 2):
        rate = pairs_per_second(feed, args.seconds, threads)
        print(f"| CropDataset, {threads} thread{'s' if threads > 1 else ''} | {rate:,.0f} |")
    if args.fit:
        import keras

        print(f"\nend to end, SRResNet (16 blocks), backend {keras.backend.backend()}:\n")
        print("| source | HR patches/s |")
        print("| --- | ---: |")
        fixed = OneBatch(pairs, batch_size=args.batch_size, steps_per_epoch=10**6)
        fed = data.CropDataset(
            pairs, batch_size=args.batch_size, steps_per_epoch=10**6, workers=args.workers
        )
        sources = (
            ("one fixed batch", fixed),
            ("CropDataset, 1 worker", feed),
            (f"CropDataset, {args.workers} workers", fed),
        )
        for name, source in sources:
            print(f"| {name} | {fit_patches_per_second(source, args.fit_steps):,.0f} |")


if __name__ == "__main__":
    main()
