"""Time the batch-size experiment and the grading replay with the reference functions.

    python benchmarks/batchsize_runtime.py [--repeat R] [--threads T]

Runs the notebook's full experiment (default settings, seed 0, no progress bar) R times and one
replay per normalization 5R times, with numpy's BLAS limited to T threads, and prints the median
wall-clock seconds and the median CPU seconds of this process (the CPU time hardly changes when
other programs compete for the cores; the wall-clock time does). Budget of the issue: the full
experiment in at most 20 s on 2 cores, a replay well under 1 s. Prints numbers only; nothing
asserts on them.
"""

import argparse
import time

import threadpoolctl

from autograder import course, reference


def seconds(function, repeat):
    """Median wall-clock and CPU seconds of function() over repeat calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return sorted(wall)[repeat // 2], sorted(cpu)[repeat // 2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    experiment = course.support_module("experiment")
    norm_fns = experiment.NormFunctions.collect(reference)
    experiment.load_digits_split()  # the first load reads scikit-learn's file; not timed
    with threadpoolctl.threadpool_limits(args.threads):
        wall, cpu = seconds(
            lambda: experiment.run_batch_size_experiment(norm_fns, progress=False), args.repeat)
        print(f"full experiment (12 runs, {args.threads} BLAS threads): {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU (median of {args.repeat})")
        for normalization in experiment.NORMALIZATIONS:
            wall, cpu = seconds(lambda: experiment.replay(norm_fns, normalization),
                                5 * args.repeat)
            print(f"replay, {experiment.norm_name(normalization):9}: {wall:.3f} s wall, "
                  f"{cpu:.3f} s CPU (median of {5 * args.repeat})")


if __name__ == "__main__":
    main()
