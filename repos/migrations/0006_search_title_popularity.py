"""What search ranks with on PostgreSQL, so that a broad query ranks a bounded set of rows:

- `search_title`: a short tsvector of the name (A), the namespace (B) and the description (B),
  kept by its own trigger (0004's namespace trigger re-saves the names, which fires it too),
  with a GIN index. Hits in it are ranked in full; hits only in the README (0004's document)
  come after them.
- `search_popularity`: 1 + ln(1 + pulls) / 20 + ln(1 + stars) / 10, a stored generated column
  (repos.search's PULLS_DAMPING and STARS_DAMPING), so that README-only hits are taken in its
  order from an index.
- b-tree indexes on it, on the pull count and on the update time (the three sorts), and on the
  name (exact names and the one-edit typos of a name).

Database only, as 0003 and 0004: none of it is in the models' state, so that SQLite never
meets it."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TITLE = """
    setweight(to_tsvector('english'::regconfig, coalesce({row}.name, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, coalesce({namespace}, '')), 'B')
    || setweight(to_tsvector('english'::regconfig, coalesce({row}.description, '')), 'B')
"""
NEW_TITLE = TITLE.format(
    row="NEW", namespace="(SELECT n.name FROM accounts_namespace n WHERE n.id = NEW.namespace_id)"
)
ROW_TITLE = TITLE.format(row="r", namespace="n.name")

FORWARDS = f"""
ALTER TABLE repos_repository ADD COLUMN search_title tsvector;

CREATE FUNCTION repos_repository_search_title() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_title := {NEW_TITLE};
    RETURN NEW;
END
$$;

CREATE TRIGGER repos_repository_search_title
    BEFORE INSERT OR UPDATE OF name, namespace_id, description
    ON repos_repository FOR EACH ROW EXECUTE FUNCTION repos_repository_search_title();

UPDATE repos_repository r SET search_title = {ROW_TITLE}
    FROM accounts_namespace n WHERE n.id = r.namespace_id;

ALTER TABLE repos_repository ADD COLUMN search_popularity double precision
    GENERATED ALWAYS AS (1 + ln(pull_count + 1) / 20 + ln(star_count + 1) / 10) STORED;

CREATE INDEX repository_search_title ON repos_repository USING gin (search_title);
CREATE INDEX repository_search_popularity ON repos_repository (search_popularity DESC);
CREATE INDEX repository_pull_count ON repos_repository (pull_count DESC);
CREATE INDEX repository_updated ON repos_repository (updated DESC);
CREATE INDEX repository_name ON repos_repository (name);
"""

BACKWARDS = """
DROP INDEX repository_name;
DROP INDEX repository_updated;
DROP INDEX repository_pull_count;
ALTER TABLE repos_repository DROP COLUMN search_popularity;
DROP TRIGGER repos_repository_search_title ON repos_repository;
DROP FUNCTION repos_repository_search_title();
ALTER TABLE repos_repository DROP COLUMN search_title;
"""


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARDS)


def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARDS)


class Migration(migrations.Migration):
    dependencies = [
        ("repos", "0005_repository_star_count"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
