"""batchnorm_backward_alt is not a function of its own: its answer cell binds the name to
batchnorm_backward (`batchnorm_backward_alt = batchnorm_backward`). Both names are then one
function, so no call from one to the other ever happens; the source shows it."""

EXPECT = {"batchnorm_backward_alt": "loses"}  # the training replay is graded on its gradients (README)

batchnorm_backward_alt = batchnorm_backward  # noqa: F821 (defined by the cell above it in the notebook)
