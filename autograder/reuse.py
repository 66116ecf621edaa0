"""What nbgrader builds again and again that a grading process builds once.

Both are installed by workers.prepare_process, in every grading process (local workers, Dask
workers, the grading command):

- share_engines: one SQLAlchemy engine per gradebook URL. nbgrader creates an engine for each
  Gradebook it opens (eleven per submission), and a new engine compiles every statement again.
- share_metadata_validators: one jsonschema validator per nbgrader metadata schema. nbgrader
  checks each cell's metadata with jsonschema.validate, which first checks the schema itself
  against the metaschema, every time (measured: 1.3 ms a cell; 0.08 ms with the validator kept).
- throwaway: a job's private gradebook lives for one submission; SQLite need not wait for the
  disk at each of nbgrader's ~40 commits per submission (measured: 1.2 ms each on ext4).
- check_tables_at_once: nbgrader's Gradebook makes sure its tables exist each time it is opened
  (eleven times per submission), with one query per table; when one query listing the tables
  finds them all, there is nothing to create.
"""
import collections
import json

import jsonschema
import nbgrader.api
import sqlalchemy

SHARED_ENGINES = 4  # database URLs whose engines a process keeps (the course's and the current job's)


def share_engines():
    """Let nbgrader's Gradebook reuse one SQLAlchemy engine per database URL in this process.

    Gradebook.close() still disposes the engine's pooled connections, so nothing stays open
    between two uses and a replaced database file is opened afresh. Idempotent.
    """
    if getattr(nbgrader.api.create_engine, "shared", False):
        return
    engines = collections.OrderedDict()

    def create_engine(url, **options):
        key = (str(url), tuple(sorted(options.items())))
        if key not in engines:
            engines[key] = sqlalchemy.create_engine(url, **options)
            while len(engines) > SHARED_ENGINES:
                engines.popitem(last=False)[1].dispose()
        engines.move_to_end(key)
        return engines[key]

    create_engine.shared = True
    nbgrader.api.create_engine = create_engine


class _KeptValidators:
    """Stands for the jsonschema module where nbgrader's metadata validators use it: its validate()
    checks a schema once, keeps the validator, and raises what jsonschema.validate raises."""

    KEPT = 8  # schemas (nbgrader has one per metadata version; each validator loads its own copy)

    def __init__(self):
        self.kept = {}  # the schema as canonical JSON -> its validator

    def validate(self, instance, schema, *args, **kwargs):
        if args or kwargs:  # not how nbgrader calls it
            return jsonschema.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        if key not in self.kept:
            validator_class = jsonschema.validators.validator_for(schema)
            validator_class.check_schema(schema)
            if len(self.kept) >= self.KEPT:
                self.kept.clear()
            self.kept[key] = validator_class(schema)
        error = jsonschema.exceptions.best_match(self.kept[key].iter_errors(instance))
        if error is not None:
            raise error

    def __getattr__(self, name):
        return getattr(jsonschema, name)


def share_metadata_validators():
    """Let nbgrader's metadata validators check each schema once per process. Idempotent."""
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, _KeptValidators):
        common.jsonschema = _KeptValidators()


def throwaway(url):
    """Let the shared engine of the SQLite database at url keep its journal in memory and skip
    syncing to disk: for a database that is thrown away after use (a crash leaves nothing to
    recover). Its connections are made afresh for each Gradebook, so every one gets this."""
    engine = nbgrader.api.create_engine(url, echo=False, future=True)  # as nbgrader's Gradebook asks for it
    if not getattr(engine, "throwaway", False):
        sqlalchemy.event.listen(engine, "connect", _without_durability)
        engine.throwaway = True


def _without_durability(connection, record):
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=MEMORY")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def check_tables_at_once():
    """Let nbgrader's gradebook see that all its tables exist in one query. Idempotent.

    SQLAlchemy's create_all (checkfirst) asks the database about each table on its own and
    creates the missing ones; listing the tables once and finding every one of them is the
    same answer. Anything missing, or any other call, goes to create_all itself.
    """
    metadata = nbgrader.api.Base.metadata
    if getattr(metadata.create_all, "at_once", False):
        return
    create_all = metadata.create_all

    def create_all_at_once(bind, tables=None, checkfirst=True):
        if checkfirst and tables is None and set(metadata.tables) <= set(sqlalchemy.inspect(bind).get_table_names()):
            return None
        return create_all(bind=bind, tables=tables, checkfirst=checkfirst)

    create_all_at_once.at_once = True
    metadata.create_all = create_all_at_once
