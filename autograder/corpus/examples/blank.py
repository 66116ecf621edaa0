"""A student who hands in the released notebook unchanged: every autograded part scores 0."""

BLANK = True

EXPECT = {
    "batchnorm_forward": "loses",
    "batchnorm_backward": "loses",
    "batchnorm_backward_alt": "loses",
    "layernorm_forward": "loses",
    "layernorm_backward": "loses",
    "preprocessing_analogy": "loses",
    "batchsize_bn_mode": "loses",
    "batchsize_layernorm_like": "loses",
    "batchsize_most_sensitive": "loses",
    "batchsize_seed_claim": "loses",
    "batchsize_training": "loses",
}
