"""The batch-size experiment's autograded conclusions (instructor-only, never released).

`EXPECTED` holds the answer of each `batchsize_*` answer cell and `OPTIONS` the values a student
chooses from. `conclusions(results)` reads the same answers off one run of the experiment, and
`seed_study` counts over many seeds how often a correct implementation (the reference) leads to
the expected answer. A question stays in the notebook only if it holds in at least 19 of 20
seeds (benchmarks/batchsize_seed_study.py prints the table; tests/test_batchsize_seed_study.py
asserts it).
"""

import argparse
import multiprocessing
from dataclasses import dataclass

import numpy as np

from autograder import course, reference, text

MIN_AGREEMENT = 19  # of 20 seeds


@dataclass(frozen=True)
class Question:
    """One autograded conclusion: its question, the options, the answer, a hint when wrong."""

    text: str
    options: tuple
    expected: str
    hint: str


QUESTIONS = {
    "batchsize_most_sensitive": Question(
        "Equal numbers of updates: which net loses the most validation accuracy when the batch "
        "size shrinks from 50 to 2?",
        ("none", "batchnorm", "layernorm"),
        "batchnorm",
        "Compare, for each net, its validation accuracy at batch size 50 with that at batch "
        "size 2 in the equal-updates view; the question asks for the largest drop.",
    ),
    "batchsize_layernorm_like": Question(
        "Equal numbers of updates: layer norm's validation accuracy changes between batch size "
        "50 and batch size 2 about as much as which other net's?",
        ("none", "batchnorm"),
        "none",
        "Work out the change from batch size 50 to batch size 2 for all three nets and see "
        "which of the other two layer norm's change is closer to.",
    ),
    "batchsize_bn_mode": Question(
        "Batch norm trained with batches of 5 (equal numbers of updates): in which mode does it "
        "classify its own training images better, 'train' (every batch of 5 normalised with its "
        "own statistics) or 'test' (running averages)?",
        ("train", "test"),
        "test",
        "In the training-accuracy panel of the equal-updates view, compare batch norm's solid "
        "line (test mode) with its dashed line (train mode) at batch size 5.",
    ),
    "batchsize_seed_claim": Question(
        "A student's notes say batch size 5 gives better validation accuracy than batch size 50. "
        "For batch norm, under which design does our data support that: equal numbers of "
        "'updates', equal numbers of 'examples', 'both' or 'neither'?",
        ("updates", "examples", "both", "neither"),
        "neither",
        "Check batch norm's validation accuracy at batch sizes 5 and 50 in each of the two "
        "views separately.",
    ),
}
EXPECTED = {grade_id: q.expected for grade_id, q in QUESTIONS.items()}
OPTIONS = {grade_id: q.options for grade_id, q in QUESTIONS.items()}


def answer_problem(grade_id, value):
    """What is wrong with a student's answer, in words the student can act on; None if right.

    Strings are compared without surrounding spaces and case.
    """
    question = QUESTIONS[grade_id]
    if not isinstance(value, str):
        return (f"{grade_id} must be one of the strings {', '.join(map(repr, question.options))};"
                f" it is {text.short_repr(value)}.")
    answer = value.strip().lower()
    if answer not in question.options:
        return (f"{grade_id} = {text.short_repr(value)} is not one of the options "
                f"{', '.join(map(repr, question.options))}.")
    if answer != question.expected:
        return f"{grade_id} = {text.short_repr(value)} is not what a correct run shows. {question.hint}"
    return None


def _val_acc(results, view, name, batch_size):
    summary = results["views"][view]
    k = int(np.flatnonzero(summary["batch_sizes"] == batch_size)[0])
    return float(summary["val_acc"][name][k])


def _evidence(results):
    """The numbers the conclusions are read from."""
    updates = results["views"]["updates"]
    small, large = int(updates["batch_sizes"].min()), int(updates["batch_sizes"].max())
    drop = {name: _val_acc(results, "updates", name, large)
            - _val_acc(results, "updates", name, small)
            for name in ("none", "batchnorm", "layernorm")}
    k5 = int(np.flatnonzero(updates["batch_sizes"] == 5)[0])
    bn_modes = (updates["train_acc"]["batchnorm"][k5], updates["train_acc_batch"]["batchnorm"][k5])
    bn_50_minus_5 = {view: _val_acc(results, view, "batchnorm", 50)
                     - _val_acc(results, view, "batchnorm", 5) for view in ("updates", "examples")}
    return drop, bn_modes, bn_50_minus_5


def conclusions(results):
    """The answer to each question that one run of the experiment supports.

    Inputs:
    - results: dict from experiment.run_batch_size_experiment (the "views" entry is enough)

    Returns a dict mapping each grade_id of QUESTIONS to one of its options.
    """
    drop, (bn_test_mode, bn_train_mode), bn_50_minus_5 = _evidence(results)
    holds = [view for view, gap in bn_50_minus_5.items() if gap < 0]
    return {
        "batchsize_most_sensitive": max(drop, key=drop.get),
        "batchsize_layernorm_like": (
            "none" if abs(drop["layernorm"] - drop["none"])
            < abs(drop["layernorm"] - drop["batchnorm"]) else "batchnorm"),
        "batchsize_bn_mode": "test" if bn_test_mode > bn_train_mode else "train",
        "batchsize_seed_claim": {0: "neither", 2: "both"}.get(len(holds)) or holds[0],
    }


def margins(results):
    """How far one run is from changing each answer away from EXPECTED, in accuracy (positive:
    the run supports EXPECTED; negative: it does not).

    - batchsize_most_sensitive: batch norm's drop from the largest to the smallest batch minus
      the larger drop of the other two nets
    - batchsize_layernorm_like: |layer norm's drop - batch norm's| - |layer norm's - none's|
    - batchsize_bn_mode: batch norm's training accuracy at batch 5, test mode minus train mode
    - batchsize_seed_claim: batch norm's validation accuracy at batch 50 minus that at batch 5,
      the smaller over the two views
    """
    drop, (bn_test_mode, bn_train_mode), bn_50_minus_5 = _evidence(results)
    return {
        "batchsize_most_sensitive": drop["batchnorm"] - max(drop["none"], drop["layernorm"]),
        "batchsize_layernorm_like": (abs(drop["layernorm"] - drop["batchnorm"])
                                     - abs(drop["layernorm"] - drop["none"])),
        "batchsize_bn_mode": float(bn_test_mode - bn_train_mode),
        "batchsize_seed_claim": min(bn_50_minus_5.values()),
    }


def run_with_reference(seed):
    """Run the notebook's experiment with the reference functions; return its "views"."""
    from threadpoolctl import threadpool_limits

    experiment = course.support_module("experiment")
    norm_fns = experiment.NormFunctions.collect(reference)
    with threadpool_limits(1):  # the workers already use every core
        results = experiment.run_batch_size_experiment(norm_fns, seed=seed, progress=False)
    return {"seed": seed, "views": results["views"]}


def seed_study(seeds=range(20), workers=2):
    """Run the experiment with the reference functions for every seed and grade the answers.

    Inputs:
    - seeds: the experiment seeds
    - workers: number of processes

    Returns a dict:
    - seeds: list of the seeds
    - answers: answers[grade_id] is the list of conclusions, one per seed
    - agree: agree[grade_id] is the number of seeds whose conclusion equals EXPECTED
    - margins: margins[grade_id] is the list of margins (see `margins`), one per seed
    - runs: the "views" of every run, one per seed (see run_batch_size_experiment)
    """
    seeds = list(seeds)
    with multiprocessing.Pool(workers) as pool:
        runs = pool.map(run_with_reference, seeds, chunksize=1)
    per_seed = [conclusions(run) for run in runs]
    answers = {grade_id: [c[grade_id] for c in per_seed] for grade_id in QUESTIONS}
    agree = {grade_id: sum(a == EXPECTED[grade_id] for a in answers[grade_id])
             for grade_id in QUESTIONS}
    per_seed_margins = [margins(run) for run in runs]
    margin = {grade_id: [m[grade_id] for m in per_seed_margins] for grade_id in QUESTIONS}
    return {"seeds": seeds, "answers": answers, "agree": agree, "margins": margin, "runs": runs}


def format_table(study):
    """The seed study as a text table: one row per question, margins in accuracy points."""
    n = len(study["seeds"])
    lines = [f"{'grade_id':26} {'expected':9} {'agree':>7}  {'margin min':>10} {'mean':>6}"
             "  other answers", "-" * 80]
    for grade_id, expected in EXPECTED.items():
        others = sorted({a for a in study["answers"][grade_id] if a != expected})
        margin = 100 * np.array(study["margins"][grade_id])
        lines.append(f"{grade_id:26} {expected:9} {study['agree'][grade_id]:>3}/{n:<3}  "
                     f"{margin.min():>10.1f} {margin.mean():>6.1f}  {', '.join(others) or '-'}")
    return "\n".join(lines)


def format_observations(study):
    """Mean validation accuracy per view, normalization and batch size over the seeds, and how
    often batch size 5 beats 50 (the claim in the student's notes), for every normalization."""
    runs = study["runs"]
    lines = []
    for view in ("updates", "examples"):
        summary = runs[0]["views"][view]
        sizes = summary["batch_sizes"]
        lines.append(f"{summary['title']}: mean (min-max) validation accuracy over "
                     f"{len(runs)} seeds")
        lines.append("  " + f"{'':10}" + "".join(f"{f'batch {b}':>21}" for b in sizes))
        for name in ("none", "batchnorm", "layernorm"):
            acc = np.array([run["views"][view]["val_acc"][name] for run in runs])
            cells = "".join(f"{m:>9.3f} ({lo:.3f}-{hi:.3f})"
                            for m, lo, hi in zip(acc.mean(0), acc.min(0), acc.max(0)))
            k5, k50 = list(sizes).index(5), list(sizes).index(50)
            wins = int(np.sum(acc[:, k5] > acc[:, k50]))
            lines.append(f"  {name:10}{cells}   batch 5 > batch 50 in {wins}/{len(runs)}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    study = seed_study(range(args.seeds), args.workers)
    print(format_table(study))
    print()
    print(format_observations(study))


if __name__ == "__main__":
    main()
