"""The training feed: `CropDataset`'s batches prepared ahead in a background thread, so
the device does not wait for the host to cut crops.

Batch `index` of epoch `epoch` is `CropDataset.batch(epoch, index)`, a pure function of
(seed, epoch, index). The feed asks a thread for the next `depth` (epoch, index) keys
while the device computes, and hands each batch out under its key: computing ahead never
changes which batch a step sees, so a resumed run stays exact. A key nobody asked for in
time (Keras peeking at the data, a resume) is simply computed on the spot.
"""

from __future__ import annotations

import weakref
from concurrent.futures import Future, ThreadPoolExecutor

import keras

from srgan_lib import data, validation


class PrefetchFeed(keras.utils.PyDataset):
    """A `keras.utils.PyDataset` over `crops` that prepares batches `depth` steps ahead.

    Yields what `crops` yields: (lr, hr), lr float32 (B, s, s, 3) in [0, 1], hr float32
    (B, S, S, 3) in [-1, 1], batch `index` of epoch `self.epoch` (set it before each
    epoch, as `training.train` does; `on_epoch_end` also moves it).
    At most `depth` batches wait in memory (`depth` * B * (S^2 + s^2) * 3 * 4 bytes: about
    9 MB for the paper's batch of 16 at depth 8). On JAX with one device (`to_device`),
    the thread also copies each batch to the device, off the training loop's path.

    Args:
        crops: the batches to serve.
        depth: how many batches to prepare ahead (0: none, each batch cut when asked).
        threads: threads that cut batches (1 keeps one core for the training step).
        to_device: copy batches to the default JAX device in the thread (JAX only).
    """

    def __init__(
        self, crops: data.CropDataset, depth: int = 8, threads: int = 1, to_device: bool = False
    ):
        super().__init__()  # one worker: Keras' own enqueuer stays off
        validation.check_int("depth", depth, minimum=0)
        validation.check_int("threads", threads, minimum=1)
        self.crops, self.depth, self.epoch = crops, depth, crops.epoch
        self.to_device = to_device and keras.backend.backend() == "jax"
        self._pending: dict[tuple[int, int], Future] = {}
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="srgan-feed")
        self._finalizer = weakref.finalize(self, self._pool.shutdown, False, cancel_futures=True)

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> tuple:
        key = (self.epoch, index)
        future = self._pending.pop(key, None)
        self._schedule(key)
        return future.result() if future is not None else self._make(*key)

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def close(self) -> None:
        """Stop the thread and drop the batches prepared ahead (idempotent)."""
        self._pending.clear()
        self._finalizer()

    def _upcoming(self, key: tuple[int, int]) -> list[tuple[int, int]]:
        """The `depth` keys after `key`, running on into the next epoch."""
        epoch, index = key
        keys = []
        for _ in range(self.depth):
            index += 1
            if index >= len(self):
                epoch, index = epoch + 1, 0
            keys.append((epoch, index))
        return keys

    def _schedule(self, key: tuple[int, int]) -> None:
        wanted = self._upcoming(key)
        for stale in set(self._pending) - set(wanted):
            self._pending.pop(stale).cancel()
        for upcoming in wanted:
            if upcoming not in self._pending:
                self._pending[upcoming] = self._pool.submit(self._make, *upcoming)

    def _make(self, epoch: int, index: int) -> tuple:
        lr, hr = self.crops.batch(epoch, index)
        if self.to_device:
            import jax

            return jax.device_put(lr), jax.device_put(hr)
        return lr, hr


def make_feed(crops: data.CropDataset, depth: int, devices: int = 1) -> keras.utils.PyDataset:
    """The feed `training.train` gives `fit`. JAX: a `PrefetchFeed` (which also moves
    batches to the device with one device; with several, Keras splits each batch over
    them), or `crops` itself for depth 0. TensorFlow: `crops` itself, since Keras already
    wraps a PyDataset in a `tf.data` pipeline whose prefetch thread cuts batches ahead
    (within an epoch, so resuming stays exact); a second thread there only competed with
    it for the host (bench/README.md)."""
    if depth == 0 or keras.backend.backend() != "jax":
        return crops
    return PrefetchFeed(crops, depth, to_device=devices == 1)
