"""Repository.star_count: the number of its stars, kept by the Star signals (repos.models), so
that search ranks with it instead of counting the stars of every hit."""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_stars(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    repository = apps.get_model("repos", "Repository")
    star = apps.get_model("repos", "Star")
    counted = (
        star.objects.filter(repository=OuterRef("pk"))
        .order_by()
        .values("repository")
        .annotate(n=Count("pk"))
        .values("n")
    )
    repository.objects.using(schema_editor.connection.alias).update(
        star_count=Coalesce(Subquery(counted), 0)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("repos", "0004_search_document"),
    ]

    operations = [
        migrations.AddField(
            model_name="repository",
            name="star_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_stars, migrations.RunPython.noop),
    ]
