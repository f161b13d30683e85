import pytest
from allauth.account.adapter import get_adapter
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Namespace, User
from accounts.namespaces import validate_namespace_name
from tests.factories import UserFactory


@pytest.mark.parametrize("name", ["ab", "alice", "a-b", "a_b", "team-42", "x" * 30, "9lives"])
def test_valid_names(name):
    validate_namespace_name(name)


@pytest.mark.parametrize(
    "name",
    ["a", "x" * 31, "Alice", "-abc", "abc-", "_abc", "a.b", "has space", "ünï", "a/b", ""],
)
def test_invalid_names_say_what_is_allowed(name):
    with pytest.raises(ValidationError) as error:
        validate_namespace_name(name)
    assert "2 to 30 characters" in error.value.messages[0]


@pytest.mark.parametrize("name", ["library", "admin", "api", "v1", "v2", "orgs", "settings"])
def test_reserved_names(name):
    with pytest.raises(ValidationError) as error:
        validate_namespace_name(name)
    assert "reserved" in error.value.messages[0]


def test_creating_a_user_claims_the_namespace(db):
    user = UserFactory(username="dora")
    namespace = Namespace.objects.get(name="dora")
    assert namespace.kind == Namespace.Kind.USER
    assert user.username == namespace.name


def test_a_user_can_never_take_an_organization_name(db):
    Namespace.objects.create(name="acme", kind=Namespace.Kind.ORG)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("acme", "acme@example.com", "x")
    assert not User.objects.filter(username="acme").exists()


def test_signup_validation_refuses_taken_and_reserved_names(db, rf):
    Namespace.objects.create(name="acme", kind=Namespace.Kind.ORG)
    UserFactory(username="dora")
    adapter = get_adapter(rf.get("/"))
    assert adapter.clean_username("  Eve ") == "eve"
    for name, message in [
        ("acme", "already taken by a user or an organization"),
        ("dora", "already taken"),
        ("library", "reserved"),
        ("x", "2 to 30 characters"),
    ]:
        with pytest.raises(ValidationError) as error:
            adapter.clean_username(name)
        assert message in error.value.messages[0]
