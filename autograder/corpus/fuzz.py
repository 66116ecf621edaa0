"""Seeded mutations of a notebook file: the damage editors, merges and copy-paste cause.

    for name, data, operators, structural in mutations(seed, base_bytes, count): ...

Every operator edits the notebook's JSON (or how it is written out) and is tagged:

- structural: the answers' text is untouched (metadata, outputs, ids, representation,
  encoding, cell order, copies of cells); autograder.rebuild must recover every answer.
  Of these, `damage=False` marks valid re-writings of the same notebook (sources as lists,
  compact JSON), which must not be reported as repaired.
- content: an answer is deleted or changed.

Operators are combined 1 to 3 at a time and applied in the order of OPERATORS. A
combination never draws from all three FAMILIES at once: with the grade_ids and the cell
ids both gone, only its position identifies a written answer, and that must then survive.
"""
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from autograder.corpus import fuzz_ops as ops

FAMILIES = ("grade_ids", "ids", "position")


@dataclass
class Draft:
    """A notebook being damaged, and how it will be written."""

    notebook: dict
    answers: frozenset            # texts of the answer cells; structural operators leave them alone
    encoding: str = "utf-8"
    bom: bytes = b""
    indent: object = 1
    ascii: bool = False

    def to_bytes(self):
        text = json.dumps(self.notebook, indent=self.indent, ensure_ascii=self.ascii)
        return self.bom + text.encode(self.encoding)


@dataclass
class Operator:
    """One kind of damage."""

    name: str
    apply: Callable               # apply(draft, rng) edits the draft in place
    structural: bool = True
    damage: bool = True
    family: str = ""              # one of FAMILIES when it hides how cells are identified


class Mutation(NamedTuple):
    """One damaged file, the operators that made it, and whether they were all structural."""

    name: str
    data: bytes
    operators: tuple
    structural: bool


OPERATORS = [
    Operator("nbgrader_not_dict", ops.nbgrader_not_dict, family="grade_ids"),
    Operator("integer_flags", ops.integer_flags),
    Operator("odd_schema_version", ops.odd_schema_version),
    Operator("grade_id_lost", ops.grade_id_lost, family="grade_ids"),
    Operator("nbgrader_stripped", ops.nbgrader_stripped, family="grade_ids"),
    Operator("metadata_not_dict", ops.metadata_not_dict, family="grade_ids"),
    Operator("long_ids", ops.long_ids, family="ids"),
    Operator("odd_ids", ops.odd_ids, family="ids"),
    Operator("repeated_ids", ops.repeated_ids, family="ids"),
    Operator("unknown_cell_type", ops.unknown_cell_type),
    Operator("odd_source", ops.odd_source, family="position"),   # may erase the question before an answer
    Operator("odd_outputs", ops.odd_outputs),
    Operator("odd_attachments", ops.odd_attachments),
    Operator("odd_kernelspec", ops.odd_kernelspec),
    Operator("odd_format_version", ops.odd_format_version),
    Operator("negative_minor", ops.negative_minor),
    Operator("lone_surrogate", ops.lone_surrogate),
    Operator("delete_answer", ops.delete_answer, structural=False),
    Operator("blank_answer", ops.blank_answer, structural=False),
    Operator("edit_answer", ops.edit_answer, structural=False),
    Operator("move_cell", ops.move_cell, family="position"),
    Operator("swap_neighbours", ops.swap_neighbours, family="position"),
    Operator("duplicate_cell", ops.duplicate_cell),
    Operator("source_lists", ops.source_lists, damage=False),
    Operator("source_strings", ops.source_strings, damage=False),
    Operator("compact_json", ops.compact_json, damage=False),
    Operator("ascii_escapes", ops.ascii_escapes, damage=False),
    Operator("stray_entries", ops.stray_entries),    # after every operator that reads cells
    Operator("format_3", ops.format_3, family="ids"),
    Operator("utf8_bom", ops.encoding("utf-8-sig")),
    Operator("utf16", ops.encoding("utf-16")),
    Operator("utf16_be", ops.encoding("utf-16-be", b"\xfe\xff")),
    Operator("utf32", ops.encoding("utf-32")),
]
BY_NAME = {op.name: op for op in OPERATORS}


def apply(base_bytes, names, seed=0):
    """
    Damage a notebook file with the named operators.

    Inputs:
    - base_bytes: an undamaged nbformat 4 notebook file.
    - names: operator names; applied in the order of OPERATORS.
    - seed: seed of the random choices the operators make.

    Returns the damaged file's bytes.
    """
    rng = random.Random(seed)
    notebook = json.loads(base_bytes)
    answers = frozenset(ops.text(c) for c in notebook["cells"]
                        if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    draft = Draft(notebook, answers)
    for op in OPERATORS:
        if op.name in names:
            op.apply(draft, rng)
    return draft.to_bytes()


def mutations(seed, base_bytes, count, structural=None):
    """
    Seeded random combinations of 1 to 3 operators applied to one notebook file.

    Inputs:
    - seed: int; the same seed gives the same mutations.
    - base_bytes: an undamaged nbformat 4 notebook file.
    - count: how many mutations to make.
    - structural: True for structural operators only, False for combinations with at least
      one content operator, None for any.

    Returns a list of Mutation(name, data, operators, structural).
    """
    rng = random.Random(seed)
    pool = [op for op in OPERATORS if op.structural] if structural else OPERATORS
    result = []
    while len(result) < count:
        chosen = rng.sample(pool, rng.randint(1, 3))
        if structural is False and all(op.structural for op in chosen):
            chosen[0] = rng.choice([op for op in OPERATORS if not op.structural])
        names = tuple(op.name for op in OPERATORS if op in chosen)
        if {op.family for op in chosen} >= set(FAMILIES):
            continue
        name = f"{seed}-{len(result)}:" + "+".join(names)
        data = apply(base_bytes, names, seed=rng.randrange(2**32))
        result.append(Mutation(name, data, names, all(BY_NAME[n].structural for n in names)))
    return result
