"""Training throughput: HR patches per second of one SRResNet step and one SRGAN step.

SRResNet step: G forward + pixel MSE + Adam. SRGAN step: one D update (on HR and SR) and
one G update with the VGG5,4 content loss (random VGG weights: the cost is the same).
Full-size models by default (B = 16 blocks, 96x96 HR, batch 16), on the current Keras
backend (KERAS_BACKEND); warm-up steps (compilation) are not timed. When PyTorch and a
CUDA GPU are present, the same architectures are also timed in eager PyTorch (built from
torch.nn, no torchvision) and the ratio is printed.

    KERAS_BACKEND=jax python bench/train_throughput.py --precision float32 mixed_bfloat16
    python bench/train_throughput.py --steps 3 --batch-size 4 --num-blocks 2  # CPU
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import keras
import numpy as np

from srgan_lib import training


class _Timer(keras.callbacks.Callback):
    """Seconds of the last epoch, waiting for the device (by reading the logs)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        [float(v) for v in logs.values()]
        self.seconds = time.perf_counter() - self.start


def keras_throughput(stage: str, args, precision: str, jit_compile) -> float:
    """HR patches/s of `fit` on random data: epoch 1 warms up, epoch 2 is timed."""
    config = training.TrainConfig.preset(
        "paper",
        stage,
        num_blocks=args.num_blocks,
        hr_size=args.hr_size,
        batch_size=args.batch_size,
        precision=precision,
        vgg_weights="none",
        jit_compile=jit_compile,
    )
    model = training.build_training_model(config)
    model.steps_per_execution = args.steps_per_execution
    rng = np.random.default_rng(0)
    n, lr_size = args.batch_size * args.steps, args.hr_size // config.scale
    lr = rng.random((n, lr_size, lr_size, 3), dtype=np.float32)
    hr = rng.random((n, args.hr_size, args.hr_size, 3), dtype=np.float32) * 2 - 1
    timer = _Timer()
    model.fit(lr, hr, batch_size=args.batch_size, epochs=2, callbacks=[timer], verbose=0)
    return args.steps * args.batch_size / timer.seconds


def torch_throughput(stage: str, args, precision: str) -> float:
    """The same step in eager PyTorch on CUDA (autocast for the mixed precisions)."""
    import torch
    from torch import nn

    def residual(f):
        return nn.Sequential(
            nn.Conv2d(f, f, 3, padding=1), nn.BatchNorm2d(f), nn.PReLU(f),
            nn.Conv2d(f, f, 3, padding=1), nn.BatchNorm2d(f),
        )  # fmt: skip

    class Generator(nn.Module):
        def __init__(self, blocks, f=64):
            super().__init__()
            self.head = nn.Sequential(nn.Conv2d(3, f, 9, padding=4), nn.PReLU(f))
            self.blocks = nn.ModuleList(residual(f) for _ in range(blocks))
            self.body = nn.Sequential(nn.Conv2d(f, f, 3, padding=1), nn.BatchNorm2d(f))
            ups = [
                layer
                for _ in range(2)  # x4: two x2 upsampling blocks
                for layer in (nn.Conv2d(f, 4 * f, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(f))
            ]
            self.tail = nn.Sequential(*ups, nn.Conv2d(f, 3, 9, padding=4), nn.Tanh())

        def forward(self, x):
            x = head = self.head(x)
            for block in self.blocks:
                x = x + block(x)
            return self.tail(head + self.body(x))

    def discriminator(size, f=64):
        layers, c = [], 3
        for i, (m, s) in enumerate(
            [(1, 1), (1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]
        ):
            layers += [nn.Conv2d(c, f * m, 3, s, 1)] + ([nn.BatchNorm2d(f * m)] if i else [])
            layers += [nn.LeakyReLU(0.2)]
            c = f * m
        flat = c * (size // 16) ** 2
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, 16 * f), nn.LeakyReLU(0.2),
                             nn.Linear(16 * f, 1), nn.Sigmoid())  # fmt: skip

    def vgg54():
        layers, c = [], 3
        for block, (n, f) in enumerate([(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]):
            for _ in range(n):
                layers += [nn.Conv2d(c, f, 3, padding=1), nn.ReLU()]
                c = f
            if block < 4:
                layers.append(nn.MaxPool2d(2))
        return nn.Sequential(*layers).requires_grad_(False)

    device = "cuda"
    dtype = {"mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}.get(precision)
    g = Generator(args.num_blocks).to(device)
    g_opt = torch.optim.Adam(g.parameters(), 1e-4, betas=(0.9, 0.999))
    scaler = torch.amp.GradScaler(enabled=precision == "mixed_float16")
    lr = torch.rand(args.batch_size, 3, args.hr_size // 4, args.hr_size // 4, device=device)
    hr = torch.rand(args.batch_size, 3, args.hr_size, args.hr_size, device=device) * 2 - 1
    if stage == "srgan":
        d = discriminator(args.hr_size).to(device)
        d_opt = torch.optim.Adam(d.parameters(), 1e-4, betas=(0.9, 0.999))
        vgg = vgg54().to(device).eval()
    bce = nn.BCELoss()

    def autocast():
        return torch.autocast(device, dtype=dtype, enabled=dtype is not None)

    def step():
        if stage == "srresnet":
            with autocast():
                loss = torch.mean((g(lr) - hr) ** 2)
            g_opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(g_opt)
            scaler.update()
            return
        with torch.no_grad(), autocast():
            g.eval()
            sr = g(lr)
        d.train()
        with autocast():
            probs = d(torch.cat([hr, sr]))
        probs = probs.float()  # BCE on probabilities must run outside autocast
        ones, zeros = torch.ones_like(probs[: len(hr)]), torch.zeros_like(probs[: len(hr)])
        d_loss = bce(probs[: len(hr)], ones) + bce(probs[len(hr) :], zeros)
        d_opt.zero_grad(set_to_none=True)
        scaler.scale(d_loss).backward()
        scaler.step(d_opt)
        g.train()
        d.eval()
        with autocast():
            sr = g(lr)
            content = torch.mean((vgg(hr) / 12.75 - vgg(sr) / 12.75).float() ** 2)
            fake = d(sr)
        g_loss = content + 1e-3 * bce(fake.float(), ones)
        g_opt.zero_grad(set_to_none=True)
        scaler.scale(g_loss).backward()
        scaler.step(g_opt)
        scaler.update()

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    return args.steps * args.batch_size / (time.perf_counter() - start)


def _torch_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed torch steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--hr-size", type=int, default=96)
    parser.add_argument("--num-blocks", type=int, default=16)
    parser.add_argument("--stages", nargs="+", default=["srresnet", "srgan"])
    parser.add_argument(
        "--steps-per-execution", type=int, default=1, help="Keras steps per compiled call"
    )
    parser.add_argument("--precision", nargs="+", default=["float32"], choices=training.PRECISIONS)
    parser.add_argument(
        "--jit-compile", choices=["auto", "true", "false"], default="auto",
        help="TensorFlow only (JAX always jits)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    use_torch = _torch_cuda()
    device = keras.config.backend()
    print(
        f"backend {device}, jit_compile {args.jit_compile}, batch {args.batch_size}, "
        f"{args.hr_size}x{args.hr_size} HR, {args.num_blocks} blocks, {args.steps} timed steps, "
        f"{args.steps_per_execution} steps per execution"
    )
    columns = ["step", "precision", f"Keras ({device}) HR patches/s"]
    if use_torch:
        columns += ["PyTorch eager HR patches/s", "Keras / PyTorch"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for stage in args.stages:
        for precision in args.precision:
            row = [stage, precision, keras_throughput(stage, args, precision, jit)]
            if use_torch:
                theirs = torch_throughput(stage, args, precision)
                row += [theirs, row[2] / theirs]
            print(
                "| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else v for v in row) + " |",
                flush=True,
            )


if __name__ == "__main__":
    main()
