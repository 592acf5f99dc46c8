#!/usr/bin/env python3
"""train_cpu.py -- the PyTorch side of the CPU training benchmark (bench/train_cpu.sh).

The same networks, data, loss, optimiser and timing as bench/train_cpu.c (read its header
comment): one case (architecture, thread count) per process, so that the peak RSS
(resource.getrusage ru_maxrss, KiB on Linux; the interpreter and `import torch` included, as
the gyre figure includes MPI's start-up) is the case's own.

  fno   FNO2d of Li et al. 2021 (fourier_2d.py, without the domain padding, as gyre): the grid
        (x, y) appended as 2 channels, fc0 = Linear(3, 20) on the channel dimension, 4 layers
        of SpectralConv2d(20, 20, 12, 12) + Conv2d(20, 20, 1), GELU after all but the last,
        fc1 = Linear(20, 128), GELU, fc2 = Linear(128, 1); 64 x 64, batch 20. gyre keeps the
        fields as (N, C, Y, X) and does the Linear layers as 1x1 convolutions: the same maths
        and parameters. Complex weights count 2 parameters each (Li et al.'s count).
  fcnn  Ross et al. 2023 FCNN: Conv2d(padding='same', padding_mode='circular') with kernels
        5,5,3,3,3,3,3,3 and channels 128,64,32,32,32,32,32,1, each hidden conv followed by
        ReLU then BatchNorm2d; 64 x 64, batch 64.
  mlp   Linear(8, 64), GELU, Linear(64, 64), GELU, Linear(64, 64), GELU, Linear(64, 8);
        batch 1024.

Data: the same splitmix64 stream as train_cpu.c (value k = 2 (z_k >> 40) 2^-24 - 1), in the
same order (inputs of batch 0, its targets, inputs of batch 1, ...), NBATCH = 4 batches
cycled. Training step: zero_grad(set_to_none=False), forward (train mode), MSELoss, backward,
Adam(lr 1e-3) step, the loss fetched with .item() every step as gyre's op returns it.

Threads: torch.set_num_threads(T) (intra-op, oneDNN and OpenMP) and torch.set_num_interop_threads(1);
the script (train_cpu.sh) also sets OMP_NUM_THREADS=T and OPENBLAS_NUM_THREADS=T for it.

Usage: train_cpu.py -arch fno|fcnn|mlp [-threads T] [-iters N] [-warmup W] [-min_time S] [-seed S]
Prints one line "TRAIN fw=torch arch=... threads=... ..." with the same keys as gyre's.
"""
import argparse
import math
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NBATCH = 4


def splitmix64_uniform(n, state):
    """n values 2 u - 1, u = (z >> 40) 2^-24, z the splitmix64 outputs after `state`;
    returns (float32 array, new state). Exactly gyre's fill_uniform."""
    k = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(state) + k * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        new_state = (state + n * 0x9E3779B97F4A7C15) % (1 << 64)
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)
    return (np.float32(2.0) * u - np.float32(1.0)).astype(np.float32), new_state


class SpectralConv2d(nn.Module):
    """Li et al. 2021 (fourier_2d.py)."""

    def __init__(self, cin, cout, modes1, modes2):
        super().__init__()
        self.cout, self.modes1, self.modes2 = cout, modes1, modes2
        scale = 1 / (cin * cout)
        self.weights1 = nn.Parameter(scale * torch.rand(cin, cout, modes1, modes2, dtype=torch.cfloat))
        self.weights2 = nn.Parameter(scale * torch.rand(cin, cout, modes1, modes2, dtype=torch.cfloat))

    def forward(self, x):
        n = x.shape[0]
        x_ft = torch.fft.rfft2(x)
        out_ft = torch.zeros(n, self.cout, x.size(-2), x.size(-1) // 2 + 1, dtype=torch.cfloat,
                             device=x.device)
        m1, m2 = self.modes1, self.modes2
        out_ft[:, :, :m1, :m2] = torch.einsum("bixy,ioxy->boxy", x_ft[:, :, :m1, :m2], self.weights1)
        out_ft[:, :, -m1:, :m2] = torch.einsum("bixy,ioxy->boxy", x_ft[:, :, -m1:, :m2], self.weights2)
        return torch.fft.irfft2(out_ft, s=(x.size(-2), x.size(-1)))


class FNO2d(nn.Module):
    """Li et al. 2021 FNO2d on (N, Y, X, C) inputs, grid appended, no domain padding."""

    def __init__(self, modes=12, width=20, cin=1, cout=1, proj=128):
        super().__init__()
        self.fc0 = nn.Linear(cin + 2, width)
        self.convs = nn.ModuleList([SpectralConv2d(width, width, modes, modes) for _ in range(4)])
        self.ws = nn.ModuleList([nn.Conv2d(width, width, 1) for _ in range(4)])
        self.fc1 = nn.Linear(width, proj)
        self.fc2 = nn.Linear(proj, cout)

    def forward(self, x):  # x (N, Y, X, C)
        n, ny, nx = x.shape[0], x.shape[1], x.shape[2]
        gx = (torch.arange(nx, dtype=torch.float32) / nx).reshape(1, 1, nx, 1).expand(n, ny, nx, 1)
        gy = (torch.arange(ny, dtype=torch.float32) / ny).reshape(1, ny, 1, 1).expand(n, ny, nx, 1)
        x = torch.cat((x, gx, gy), dim=-1)
        x = self.fc0(x).permute(0, 3, 1, 2)
        for i in range(4):
            x = self.convs[i](x) + self.ws[i](x)
            if i < 3:
                x = F.gelu(x)
        x = x.permute(0, 2, 3, 1)
        return self.fc2(F.gelu(self.fc1(x)))


def fcnn(cin=1, cout=1):
    """Ross et al. 2023 FCNN (pyqg_parameterization_benchmarks)."""
    chans, kerns, layers = [128, 64, 32, 32, 32, 32, 32, cout], [5, 5, 3, 3, 3, 3, 3, 3], []
    c = cin
    for i, (co, k) in enumerate(zip(chans, kerns)):
        layers.append(nn.Conv2d(c, co, k, padding="same", padding_mode="circular"))
        if i < len(chans) - 1:
            layers += [nn.ReLU(), nn.BatchNorm2d(co)]
        c = co
    return nn.Sequential(*layers)


def mlp():
    return nn.Sequential(nn.Linear(8, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(),
                         nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 8))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-arch", default="fno", choices=["fno", "fcnn", "mlp"])
    p.add_argument("-threads", type=int, default=1)
    p.add_argument("-iters", type=int, default=5)
    p.add_argument("-warmup", type=int, default=2)
    p.add_argument("-min_time", type=float, default=0.0)
    p.add_argument("-seed", type=int, default=42)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)

    # gyre's (N, C, Y, X) data; the FNO takes it channel-last as Li et al.'s code does
    if a.arch == "fno":
        net, batch, xs = FNO2d(), 20, (20, 1, 64, 64)
    elif a.arch == "fcnn":
        net, batch, xs = fcnn(), 64, (64, 1, 64, 64)
    else:
        net, batch, xs = mlp(), 1024, (1024, 8)
    ys = (batch, 8) if a.arch == "mlp" else xs
    state, data, data_sum = a.seed, [], 0.0
    for _ in range(NBATCH):
        hx, state = splitmix64_uniform(math.prod(xs), state)
        ht, state = splitmix64_uniform(math.prod(ys), state)
        data_sum += float(hx.astype(np.float64).sum()) + float(ht.astype(np.float64).sum())
        x, t = torch.from_numpy(hx.reshape(xs)), torch.from_numpy(ht.reshape(ys))
        if a.arch == "fno":  # (N, 1, Y, X) -> (N, Y, X, 1), contiguous, before timing
            x, t = x.permute(0, 2, 3, 1).contiguous(), t.permute(0, 2, 3, 1).contiguous()
        data.append((x, t))

    params = sum(q.numel() * (2 if q.is_complex() else 1) for q in net.parameters())
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = nn.MSELoss()
    step, losses = 0, []

    def train_step():
        nonlocal step
        x, t = data[step % NBATCH]
        step += 1
        opt.zero_grad(set_to_none=False)
        loss = lossf(net(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())

    for _ in range(a.warmup):
        train_step()
    done, w0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        train_step()
        done += 1
        w1 = time.perf_counter()
        if done >= a.iters and w1 - w0 >= a.min_time:
            break
    c1 = time.process_time()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"TRAIN fw=torch arch={a.arch} threads={a.threads} batch={batch} params={params} "
          f"iters={done} seconds={w1 - w0:.4f} samples_per_s={batch * done / (w1 - w0):.6g} "
          f"cpu_per_wall={(c1 - c0) / (w1 - w0):.3f} peak_rss_kb={rss} "
          f"loss_first={losses[0]:.6g} loss_last={losses[-1]:.6g} data_sum={data_sum:.6f} "
          f"torch={torch.__version__}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
