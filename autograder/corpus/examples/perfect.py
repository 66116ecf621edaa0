"""A student whose every answer is the instructor's solution: full marks on every autograded part."""

EXPECT = {}
