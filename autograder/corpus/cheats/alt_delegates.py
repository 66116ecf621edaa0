"""batchnorm_backward_alt does not implement the simplified closed form: it returns
batchnorm_backward(dout, cache), the graph version written above it. The gradient is right, so a
comparison with the reference cannot tell; the assignment asks for a second, simplified
derivation, which this cell does not contain. Everything else is the instructor's solution."""

EXPECT = {"batchnorm_backward_alt": "loses"}  # the training replay is graded on its gradients (README)


def batchnorm_backward_alt(dout, cache):
    return batchnorm_backward(dout, cache)
