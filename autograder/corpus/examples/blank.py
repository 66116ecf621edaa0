"""A student who hands in the released notebook unchanged: every autograded part scores 0."""

BLANK = True

EXPECT = {
    "batchnorm_forward": "loses",
    "batchnorm_backward": "loses",
    "batchnorm_backward_alt": "loses",
    "layernorm_forward": "loses",
    "layernorm_backward": "loses",
    "preprocessing_analogy": "loses",
}
