#!/usr/bin/env python3
"""train_cpu.py -- the PyTorch side of the training benchmarks: on the CPU (bench/train_cpu.sh)
and, with -device cuda, on the GPU (bench/train_gpu.sh).

The same networks, data, loss, optimiser and timing as bench/train_cpu.c (read its header
comment): one case (architecture, device, size, thread count) per process, so that the peak
RSS (resource.getrusage ru_maxrss, KiB on Linux; the interpreter and `import torch` included,
as the gyre figure includes MPI's start-up) and the peak device memory are the case's own.

  fno   FNO2d of Li et al. 2021 (fourier_2d.py, without the domain padding, as gyre): the grid
        (x, y) appended as 2 channels, fc0 = Linear(3, 20) on the channel dimension, 4 layers
        of SpectralConv2d(20, 20, 12, 12) + Conv2d(20, 20, 1), GELU after all but the last,
        fc1 = Linear(20, 128), GELU, fc2 = Linear(128, 1); 64 x 64, batch 20. gyre keeps the
        fields as (N, C, Y, X) and does the Linear layers as 1x1 convolutions: the same maths
        and parameters. Complex weights count 2 parameters each (Li et al.'s count).
  fcnn  Ross et al. 2023 FCNN: Conv2d(padding='same', padding_mode='circular') with kernels
        5,5,3,3,3,3,3,3 and channels 128,64,32,32,32,32,32,1, each hidden conv followed by
        ReLU then BatchNorm2d; 64 x 64, batch 64.
        (fno and fcnn: -size S for S x S instead of 64 x 64.)
  mlp   Linear(8, 64), GELU, Linear(64, 64), GELU, Linear(64, 64), GELU, Linear(64, 8);
        batch 1024.

Data: the same splitmix64 stream as train_cpu.c (value k = 2 (z_k >> 40) 2^-24 - 1), in the
same order (inputs of batch 0, its targets, inputs of batch 1, ...), NBATCH = 4 batches
cycled. Training step: zero_grad(set_to_none=False), forward (train mode), MSELoss, backward,
Adam(lr 1e-3) step, the loss fetched with .item() every step as gyre's op returns it.

CUDA (-device cuda, also spelt --device and -backend as gyre's option): the model and all
NBATCH batches on the GPU before timing; true fp32: TF32 off for cuBLAS and cuDNN
(torch.backends.cuda.matmul.allow_tf32 = False, torch.backends.cudnn.allow_tf32 = False, and
the fp32_precision = "ieee" settings where this PyTorch has them; the line says tf32=off only
when it reads them back off); cudnn.benchmark = True (cuDNN picks its fastest algorithm in the
warm-up steps, as a tuned PyTorch run would); eager mode, no torch.compile.
torch.cuda.synchronize() before every clock reading; peak device memory is
torch.cuda.max_memory_allocated() at the end (data, model, optimiser state, activations,
cuDNN/cuBLAS workspaces from the caching allocator; not the allocator's cached slack).

Threads: torch.set_num_threads(T) (intra-op, oneDNN and OpenMP) and torch.set_num_interop_threads(1);
the script (train_cpu.sh) also sets OMP_NUM_THREADS=T and OPENBLAS_NUM_THREADS=T for it.

Usage: train_cpu.py -arch fno|fcnn|mlp [-device cpu|cuda] [-size S] [-threads T] [-iters N]
                    [-warmup W] [-min_time S] [-seed S]
Prints one line "TRAIN fw=torch arch=... threads=... ..." with the same keys as gyre's
(backend=, size= and peak_device_bytes= as gyre's: with cuda or a size other than 64).
numpy generates the data; where it is missing, the same stream is computed with torch int64
arithmetic (GYRE_BENCH_NO_NUMPY=1 forces that path, for testing).
"""
import argparse
import math
import resource
import sys
import time

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    if os.environ.get("GYRE_BENCH_NO_NUMPY"):
        raise ImportError("GYRE_BENCH_NO_NUMPY set")
    import numpy as np
except ImportError:
    np = None

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


def _signed64(c):
    return c - (1 << 64) if c >= 1 << 63 else c


def splitmix64_uniform_torch(n, state):
    """splitmix64_uniform without numpy: int64 tensors wrap modulo 2^64 as uint64 would, and
    the right shifts are made logical by masking."""
    def srl(z, s):
        return (z >> s) & ((1 << (64 - s)) - 1)

    k = torch.arange(1, n + 1, dtype=torch.int64)
    z = k * _signed64(0x9E3779B97F4A7C15) + _signed64(state % (1 << 64))
    z = (z ^ srl(z, 30)) * _signed64(0xBF58476D1CE4E5B9)
    z = (z ^ srl(z, 27)) * _signed64(0x94D049BB133111EB)
    z = z ^ srl(z, 31)
    new_state = (state + n * 0x9E3779B97F4A7C15) % (1 << 64)
    u = srl(z, 40).to(torch.float32) * (2.0**-24)
    return 2.0 * u - 1.0, new_state


def set_true_fp32():
    """TF32 off for cuBLAS and cuDNN (old and, where present, new settings); True when both
    read back off."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        if hasattr(torch.backends, "fp32_precision"):  # PyTorch >= 2.9
            for obj in (torch.backends, torch.backends.cuda.matmul, torch.backends.cudnn,
                        getattr(torch.backends.cudnn, "conv", None)):
                if obj is not None and hasattr(obj, "fp32_precision"):
                    try:
                        obj.fp32_precision = "ieee"
                    except Exception:  # noqa: BLE001 (a setting this version refuses)
                        pass
        torch.set_float32_matmul_precision("highest")
        try:
            return not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        except Exception:  # noqa: BLE001 (reading the old flags after the new ones)
            return (torch.backends.cuda.matmul.fp32_precision == "ieee"
                    and torch.backends.cudnn.conv.fp32_precision == "ieee")


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
        ar = lambda m: torch.arange(m, dtype=torch.float32, device=x.device) / m  # noqa: E731
        gx = ar(nx).reshape(1, 1, nx, 1).expand(n, ny, nx, 1)
        gy = ar(ny).reshape(1, ny, 1, 1).expand(n, ny, nx, 1)
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
    p.add_argument("-device", "--device", "-backend", dest="device", default="cpu",
                   choices=["cpu", "cuda"])
    p.add_argument("-size", "--size", dest="size", type=int, default=64)
    p.add_argument("-threads", type=int, default=1)
    p.add_argument("-iters", type=int, default=5)
    p.add_argument("-warmup", type=int, default=2)
    p.add_argument("-min_time", type=float, default=0.0)
    p.add_argument("-seed", type=int, default=42)
    p.add_argument("-profile", type=int, default=0,
                   help="after the timed steps, N more under torch.profiler: the kernels "
                        "taking the most device time (PROFILE lines; CUDA only)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    dev, tf32 = torch.device(a.device), None
    if a.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("train_cpu.py: no CUDA device (torch.cuda.is_available() is False; "
                     f"PyTorch {torch.__version__}, built for CUDA {torch.version.cuda})")
        tf32 = "off" if set_true_fp32() else "UNKNOWN"
        torch.backends.cudnn.benchmark = True
    S = a.size

    # gyre's (N, C, Y, X) data; the FNO takes it channel-last as Li et al.'s code does
    if a.arch == "fno":
        net, batch, xs = FNO2d(), 20, (20, 1, S, S)
    elif a.arch == "fcnn":
        net, batch, xs = fcnn(), 64, (64, 1, S, S)
    else:
        net, batch, xs = mlp(), 1024, (1024, 8)
    ys = (batch, 8) if a.arch == "mlp" else xs
    state, data, data_sum = a.seed, [], 0.0
    for _ in range(NBATCH):
        if np is not None:
            hx, state = splitmix64_uniform(math.prod(xs), state)
            ht, state = splitmix64_uniform(math.prod(ys), state)
            data_sum += float(hx.astype(np.float64).sum()) + float(ht.astype(np.float64).sum())
            x, t = torch.from_numpy(hx.reshape(xs)), torch.from_numpy(ht.reshape(ys))
        else:
            hx, state = splitmix64_uniform_torch(math.prod(xs), state)
            ht, state = splitmix64_uniform_torch(math.prod(ys), state)
            data_sum += float(hx.double().sum()) + float(ht.double().sum())
            x, t = hx.reshape(xs), ht.reshape(ys)
        if a.arch == "fno":  # (N, 1, Y, X) -> (N, Y, X, 1), contiguous, before timing
            x, t = x.permute(0, 2, 3, 1).contiguous(), t.permute(0, 2, 3, 1).contiguous()
        data.append((x.to(dev), t.to(dev)))

    net.to(dev)
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

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    for _ in range(a.warmup):
        train_step()
    sync()
    done, w0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        train_step()
        done += 1
        sync()
        w1 = time.perf_counter()
        if done >= a.iters and w1 - w0 >= a.min_time:
            break
    c1 = time.process_time()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dev_peak = torch.cuda.max_memory_allocated() if a.device == "cuda" else 0
    print(f"TRAIN fw=torch arch={a.arch} threads={a.threads} batch={batch} params={params} "
          f"iters={done} seconds={w1 - w0:.4f} samples_per_s={batch * done / (w1 - w0):.6g} "
          f"cpu_per_wall={(c1 - c0) / (w1 - w0):.3f} peak_rss_kb={rss} "
          f"loss_first={losses[0]:.6g} loss_last={losses[-1]:.6g} data_sum={data_sum:.6f} "
          f"torch={torch.__version__}"
          + (f" backend={a.device} size={S} peak_device_bytes={dev_peak}"
             if a.device != "cpu" or S != 64 else "")
          + (f" tf32={tf32}" if a.device == "cuda" else ""))
    sys.stdout.flush()
    if a.profile > 0 and a.device == "cuda":
        # which kernels PyTorch (cuDNN, cuBLAS) runs for this network, and their device time:
        # what gyre's own kernels are compared with
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(a.profile):
                train_step()
            sync()
        def dev_us(e):  # self device time (PyTorch >= 2.4 names it so; before, cuda)
            v = getattr(e, "self_device_time_total", None)
            return v if v is not None else getattr(e, "self_cuda_time_total", 0)
        rows = [e for e in prof.key_averages() if dev_us(e) > 0]
        rows.sort(key=dev_us, reverse=True)
        total = max(1e-9, sum(dev_us(e) for e in rows))
        print(f"PROFILE torch {a.arch} {S}^2, {a.profile} steps: {total / a.profile / 1e3:.3f} ms "
              "of device time a step; the kernels by device time:")
        for e in rows[:15]:
            print(f"PROFILE {dev_us(e) / a.profile / 1e3:9.3f} ms/step "
                  f"{100 * dev_us(e) / total:5.1f}% x{e.count // a.profile:<4d} "
                  f"{e.key[:110]}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
