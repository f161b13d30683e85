"""A stored search document on PostgreSQL: `repos_repository.search_document`, a tsvector kept
by triggers (name A, namespace B, description B, README C) with a GIN index, which replaces
0003's expression index: a recheck then reads a stored vector instead of parsing a README.
Database only, as 0003: the column is not in the models' state (repos.search reads it through
RawSQL), so that SQLite never meets it."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchConfig, SearchVector
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# 0003's index on the expression, dropped here and made again on the way back.
CONFIG = SearchConfig("english")
EXPRESSION_INDEX = GinIndex(
    SearchVector("name", config=CONFIG, weight="A")
    + SearchVector("description", config=CONFIG, weight="B")
    + SearchVector("full_description", config=CONFIG, weight="C"),
    name="repository_search_vector",
)

DOCUMENT = """
    setweight(to_tsvector('english'::regconfig, coalesce({row}.name, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, coalesce({namespace}, '')), 'B')
    || setweight(to_tsvector('english'::regconfig, coalesce({row}.description, '')), 'B')
    || setweight(to_tsvector('english'::regconfig, coalesce({row}.full_description, '')), 'C')
"""

NEW_DOCUMENT = DOCUMENT.format(
    row="NEW", namespace="(SELECT n.name FROM accounts_namespace n WHERE n.id = NEW.namespace_id)"
)
ROW_DOCUMENT = DOCUMENT.format(row="r", namespace="n.name")

FORWARDS = f"""
ALTER TABLE repos_repository ADD COLUMN search_document tsvector;

CREATE FUNCTION repos_repository_search_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_document := {NEW_DOCUMENT};
    RETURN NEW;
END
$$;

CREATE TRIGGER repos_repository_search_document
    BEFORE INSERT OR UPDATE OF name, namespace_id, description, full_description
    ON repos_repository FOR EACH ROW EXECUTE FUNCTION repos_repository_search_document();

CREATE FUNCTION repos_namespace_search_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repos_repository SET name = name WHERE namespace_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER repos_namespace_search_document
    AFTER UPDATE OF name ON accounts_namespace FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION repos_namespace_search_document();

UPDATE repos_repository r SET search_document = {ROW_DOCUMENT}
    FROM accounts_namespace n WHERE n.id = r.namespace_id;

CREATE INDEX repository_search_document ON repos_repository USING gin (search_document);
"""

BACKWARDS = """
DROP TRIGGER repos_namespace_search_document ON accounts_namespace;
DROP FUNCTION repos_namespace_search_document();
DROP TRIGGER repos_repository_search_document ON repos_repository;
DROP FUNCTION repos_repository_search_document();
ALTER TABLE repos_repository DROP COLUMN search_document;
"""


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("repos", "Repository"), EXPRESSION_INDEX)
        schema_editor.execute(FORWARDS)


def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARDS)
        schema_editor.add_index(apps.get_model("repos", "Repository"), EXPRESSION_INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("repos", "0003_search_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
