"""Run the batch-size experiment for 20 seeds with the reference and print the seed study.

    python benchmarks/batchsize_seed_study.py [--seeds S] [--workers W]

First table: for every autograded `batchsize_*` answer, in how many seeds a correct
implementation leads to the expected answer (the notebook keeps a question only at 19/20 or
better). Then the mean, min and max validation accuracy per view, normalization and batch size,
and how often batch size 5 beats batch size 50: the numbers behind the notebook's examination of
the seed notes' claim. Also prints the wall-clock seconds of the study.
"""

import time

from autograder import batchsize

if __name__ == "__main__":
    start = time.perf_counter()
    batchsize.main()
    print(f"\nseed study: {time.perf_counter() - start:.1f} s")
