"""The layer-norm analogy picks option 1 (normalise each row of pixels), which normalises groups
of features: group norm's idea, not layer norm's."""

EXPECT = {"preprocessing_analogy": "loses"}

bn_analogy = 3
ln_analogy = 1
