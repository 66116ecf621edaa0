"""Time the numpy reference against PyTorch: forward (train mode) + backward, per case.

    python benchmarks/reference_vs_torch.py [--shape N D] [--repeat R] [--threads T]

Cases: batch norm (batchnorm_forward + batchnorm_backward_alt against F.batch_norm in
training mode with autograd) and layer norm (layernorm_forward + layernorm_backward
against F.layer_norm), each in float64 and float32, with the same inputs and the same
upstream gradient. Both libraries are limited to the same number of threads (numpy's
BLAS through threadpoolctl, torch through torch.set_num_threads). The two sides run
alternately inside one loop so that machine noise hits both; the table shows medians.
The last column is the largest relative difference of any output, as a sanity check
that both sides compute the same thing. Prints numbers only.
"""

import argparse
import functools
import time

import numpy as np
import threadpoolctl
import torch
import torch.nn.functional as F

from autograder import reference


def relative_difference(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b).max() / max(np.abs(a).max() + np.abs(b).max(), 1e-300)


def make_inputs(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    N, D = shape
    x = (3.0 * rng.standard_normal((N, D)) + rng.standard_normal(D)).astype(dtype)
    gamma = (1.0 + 0.1 * rng.standard_normal(D)).astype(dtype)
    beta = (0.1 * rng.standard_normal(D)).astype(dtype)
    dout = rng.standard_normal((N, D)).astype(dtype)
    return x, gamma, beta, dout


def numpy_batchnorm(x, gamma, beta, dout):
    out, cache = reference.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return (out, *reference.batchnorm_backward_alt(dout, cache))


def numpy_layernorm(x, gamma, beta, dout):
    out, cache = reference.layernorm_forward(x, gamma, beta, {})
    return (out, *reference.layernorm_backward(dout, cache))


def torch_case(kind, x, gamma, beta, dout):
    """Return a function running torch forward + backward; it returns (out, dx, dgamma, dbeta)."""
    D = x.shape[1]
    tx, tgamma, tbeta = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    tdout = torch.tensor(dout)
    running_mean, running_var = torch.zeros(D, dtype=tx.dtype), torch.zeros(D, dtype=tx.dtype)

    def run():
        tx.grad = tgamma.grad = tbeta.grad = None
        if kind == "BN":
            out = F.batch_norm(tx, running_mean, running_var, tgamma, tbeta, training=True,
                               momentum=0.1, eps=1e-5)
        else:
            out = F.layer_norm(tx, (D,), tgamma, tbeta, eps=1e-5)
        out.backward(tdout)
        return out.detach(), tx.grad, tgamma.grad, tbeta.grad

    return run


def medians(f, g, repeat):
    f(), g()  # warm up
    tf, tg = [], []
    for _ in range(repeat):
        for fn, times in ((f, tf), (g, tg)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return 1e3 * np.median(tf), 1e3 * np.median(tg)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", type=int, nargs=2, default=(4096, 1024), metavar=("N", "D"))
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per case")
    parser.add_argument("--threads", type=int, default=1, help="threads for numpy's BLAS and torch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    with threadpoolctl.threadpool_limits(limits=args.threads):
        blas = [f"{p['internal_api']} {p['version']} ({p['num_threads']} threads)"
                for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        print(f"numpy {np.__version__}, BLAS: {', '.join(blas) or 'none found'}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
        print(f"shape (N, D) = {tuple(args.shape)}, median of {args.repeat} runs, "
              "forward (train) + backward")
        print()
        print(f"{'case':<14} {'numpy ms':>9} {'torch ms':>9} {'ratio':>6}  {'max rel diff':>12}")
        for kind, numpy_fn in (("BN", numpy_batchnorm), ("LN", numpy_layernorm)):
            for dtype in (np.float64, np.float32):
                inputs = make_inputs(args.shape, dtype, args.seed)
                ours = functools.partial(numpy_fn, *inputs)
                theirs = torch_case(kind, *inputs)
                diff = max(relative_difference(a, b.numpy()) for a, b in zip(ours(), theirs()))
                t_numpy, t_torch = medians(ours, theirs, args.repeat)
                case = f"{kind} {np.dtype(dtype).name}"
                print(f"{case:<14} {t_numpy:9.2f} {t_torch:9.2f} {t_numpy / t_torch:6.2f}  {diff:12.1e}")


if __name__ == "__main__":
    main()
