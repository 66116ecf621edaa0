"""batchnorm_backward_alt runs a copy of batchnorm_backward: a cell before it builds a new function
from the graph version's code object (`types.FunctionType(batchnorm_backward.__code__.replace(...))`),
so neither the name nor the function object is the graph version's. The bytecode is: the grader
watches what the code computes, not what it is called."""
import types

EXPECT = {"batchnorm_backward_alt": "loses"}  # the training replay is graded on its gradients (README)

_graph = types.FunctionType(batchnorm_backward.__code__.replace(co_name="_graph"), globals())  # noqa: F821


def batchnorm_backward_alt(dout, cache):
    return _graph(dout, cache)
