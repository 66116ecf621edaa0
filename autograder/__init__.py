"""normlab's grader (README: How grading works). The sandboxed kernel gets an empty copy of this
file (autograder.sandbox), so nothing here runs beside student code."""
import sys

# jsonschema, which nbformat imports, loads rfc3987_syntax whenever it is installed (jupyter-events
# pulls it in), and rfc3987_syntax compiles 38 grammars on import: 2 s for every grading process
# and Dask worker. It serves only the "iri" string formats, which no notebook schema uses.
sys.modules.setdefault("rfc3987_syntax", None)
