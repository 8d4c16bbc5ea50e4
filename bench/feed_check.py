"""Where does a real SRResNet training step spend its time on a GPU? (Not a test.)

    KERAS_BACKEND=jax python bench/feed_check.py --folder .devdata/train/sunhays80

Times `fit` of the paper's generator (16 blocks, float32, batch 16, 96x96, 8 steps per
execution, as `srgan models train` runs it) fed by one fixed batch, by `CropDataset` in the
main thread and by `CropDataset` with worker threads; and the per-save cost of a sample
grid and a checkpoint. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import keras

from srgan_lib import data, training


class OneBatch(data.CropDataset):
    """The feed's first batch, over and over: training with no feeding cost."""

    def __getitem__(self, index):
        if not hasattr(self, "batch"):
            self.batch = super().__getitem__(0)
        return self.batch


def steps_per_second(model: keras.Model, feed: data.CropDataset, steps: int) -> float:
    model.fit(feed, epochs=1, steps_per_epoch=16, verbose=0)  # warm (compiled once)
    start = time.perf_counter()
    model.fit(feed, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True)
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--num-blocks", type=int, default=16)
    parser.add_argument("--hr-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    pairs = data.load_training_pairs(args.folder, 4, args.limit)
    config = training.TrainConfig(
        num_blocks=args.num_blocks,
        hr_size=args.hr_size,
        batch_size=args.batch_size,
        steps_per_execution=8,
        steps_per_epoch=8,
    )
    model = training.build_training_model(config)
    feeds = {
        "one fixed batch": OneBatch(pairs, args.batch_size, args.hr_size, 10**6),
        "CropDataset, main thread": data.CropDataset(pairs, args.batch_size, args.hr_size, 10**6),
    }
    for workers in (2, 4, 8):
        feeds[f"CropDataset, {workers} worker threads"] = data.CropDataset(
            pairs, args.batch_size, args.hr_size, 10**6, workers=workers
        )
    print(f"| feed ({keras.backend.backend()}, {args.steps} steps) | steps/s | HR patches/s |")
    print("| --- | ---: | ---: |")
    for name, feed in feeds.items():
        rate = steps_per_second(model, feed, args.steps)
        print(f"| {name} | {rate:,.1f} | {rate * args.batch_size:,.0f} |", flush=True)
    crops = data.center_crops(pairs[:4], args.hr_size)
    with tempfile.TemporaryDirectory() as tmp:
        for what, job in (
            ("sample grid", lambda: training.sample_grid(model, *crops)),
            ("checkpoint", lambda: training.save_checkpoint(model, Path(tmp) / "c.npz", config, 1)),
        ):
            job()
            start = time.perf_counter()
            job()
            print(f"| one {what} | {time.perf_counter() - start:.2f} s | |", flush=True)


if __name__ == "__main__":
    main()
