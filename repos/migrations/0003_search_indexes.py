"""Search on PostgreSQL: the pg_trgm extension, a GIN index on the weighted text vector of a
repository and a trigram GIN index on its name. Nothing on SQLite, whose search is a plain
fallback (repos/search.py). Database only: the indexes are not in the models' state, so that
SQLite never meets them."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension
from django.contrib.postgres.search import SearchConfig, SearchVector
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# The search expression as it was when this migration was written (0004 replaces this index
# with a stored document): an index serves only the very expression it was built on.
CONFIG = SearchConfig("english")
INDEXES = [
    GinIndex(
        SearchVector("name", config=CONFIG, weight="A")
        + SearchVector("description", config=CONFIG, weight="B")
        + SearchVector("full_description", config=CONFIG, weight="C"),
        name="repository_search_vector",
    ),
    GinIndex(fields=["name"], opclasses=["gin_trgm_ops"], name="repository_name_trgm"),
]


def create_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        repository = apps.get_model("repos", "Repository")
        for index in INDEXES:
            schema_editor.add_index(repository, index)


def drop_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        repository = apps.get_model("repos", "Repository")
        for index in INDEXES:
            schema_editor.remove_index(repository, index)


class Migration(migrations.Migration):
    dependencies = [
        ("repos", "0002_stars_webhooks_activity_redirects"),
    ]

    operations = [
        # Does nothing on another database than PostgreSQL.
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
