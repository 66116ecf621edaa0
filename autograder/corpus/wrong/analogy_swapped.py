"""The two analogy answers are swapped: per-image normalisation for batch norm and the data-set
mean image for layer norm."""

EXPECT = {"preprocessing_analogy": "loses"}

bn_analogy = 2
ln_analogy = 3
