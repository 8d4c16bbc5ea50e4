"""Does the training feed keep up? Steps/s of `fit` fed as `training.train` feeds it,
over steps/s of the same step on data already in memory. (Not a test.)

    python bench/feed_ratio.py                      # TensorFlow
    KERAS_BACKEND=jax python bench/feed_ratio.py    # JAX

A small SRResNet (1 block of 16 filters by default) so that on a CPU the feed's cost is
not hidden under the step's. In memory: `fit(lr, hr, batch_size=B)` on numpy arrays of
`--steps` batches of crops cut beforehand. Fed: `fit(feed.make_feed(...))` over a
`CropDataset` (the same images, crops cut during training): on JAX a `PrefetchFeed`
`--depth` batches ahead, on TensorFlow `CropDataset` itself, which Keras prefetches in
`tf.data`; and `CropDataset` itself (depth 0), the feed before. Each is warmed once
(compile), then timed `--rounds` times in turn; the table gives the median of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

from srgan_lib import data, training
from srgan_lib.training import feed


def timed_fit(model: keras.Model, run, steps: int) -> float:
    """Steps per second of one `fit` epoch of `steps` steps."""
    start = time.perf_counter()
    run()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample", help="sample, div2k or a folder")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--steps", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--num-blocks", type=int, default=1)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--hr-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps-per-execution", type=int, default=8)
    parser.add_argument("--depth", type=int, default=8)
    args = parser.parse_args()

    pairs = data.load_training_pairs(args.data, 4, args.limit)
    config = training.TrainConfig(
        num_blocks=args.num_blocks,
        filters=args.filters,
        hr_size=args.hr_size,
        batch_size=args.batch_size,
        steps_per_execution=args.steps_per_execution,
        steps_per_epoch=args.steps,
    )
    model = training.build_training_model(config)
    crops = data.CropDataset(pairs, args.batch_size, args.hr_size, args.steps)
    batches = [crops.batch(1000, i) for i in range(args.steps)]
    lr, hr = (np.concatenate(part) for part in zip(*batches, strict=True))
    fast = feed.make_feed(crops, args.depth)
    runs = {
        "in memory (numpy arrays)": lambda: model.fit(
            lr, hr, batch_size=args.batch_size, epochs=1, verbose=0
        ),
        f"feed.make_feed, depth {args.depth}": lambda: model.fit(fast, epochs=1, verbose=0),
        "CropDataset alone (depth 0)": lambda: model.fit(crops, epochs=1, verbose=0),
    }
    rates = {name: [] for name in runs}
    for run in runs.values():
        run()  # compile, warm the threads
    for _ in range(args.rounds):
        for name, run in runs.items():
            rates[name].append(timed_fit(model, run, args.steps))
    fast.close()
    memory = statistics.median(rates["in memory (numpy arrays)"])
    print(
        f"{keras.backend.backend()}: SRResNet {args.num_blocks} block(s) of {args.filters} "
        f"filters, batch {args.batch_size} of {args.hr_size}x{args.hr_size}, "
        f"{args.steps_per_execution} steps per execution, {args.steps} steps x "
        f"{args.rounds} rounds, {len(pairs)} images"
    )
    print("| feed | steps/s (median) | rounds | ratio to in memory |")
    print("| --- | ---: | --- | ---: |")
    for name, values in rates.items():
        median = statistics.median(values)
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"| {name} | {median:.1f} | {shown} | {median / memory:.2f} |")


if __name__ == "__main__":
    main()
