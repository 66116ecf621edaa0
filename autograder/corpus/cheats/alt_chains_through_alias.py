"""batchnorm_backward_alt delegates through a name of its own: a cell before it keeps the graph
version as `_graph = batchnorm_backward`, and the closed form returns `_graph(dout, cache)`. The
source of batchnorm_backward_alt never names batchnorm_backward, and renaming
batchnorm_backward while the part is graded does not reach _graph; running the graph version's
code inside the closed form does show."""

EXPECT = {"batchnorm_backward_alt": "loses"}  # the training replay is graded on its gradients (README)

_graph = batchnorm_backward  # noqa: F821 (defined by the cell above it in the notebook)


def batchnorm_backward_alt(dout, cache):
    return _graph(dout, cache)
