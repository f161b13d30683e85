"""Parsing the `scope` parameter of the token request (distribution's token auth spec)."""

from dataclasses import dataclass


class ScopeError(ValueError):
    pass


@dataclass(frozen=True)
class Scope:
    type: str  # "repository", "registry", … (a resource class like "(plugin)" is kept)
    name: str  # may itself contain ':' (host:port)
    actions: tuple[str, ...]

    @property
    def base_type(self) -> str:
        return self.type.split("(", 1)[0]


def parse_scopes(values: list[str]) -> list[Scope]:
    """Every scope in the given parameters; a parameter may hold several, space-separated.

    The type is before the first ':', the actions after the last; the name is what is between.
    Repeated scopes for the same resource are merged.
    """
    merged: dict[tuple[str, str], list[str]] = {}
    for value in values:
        for entry in value.split():
            kind, sep, rest = entry.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not (sep and sep2 and kind and name):
                raise ScopeError(
                    f"Malformed scope {entry!r}: expected type:name:actions, "
                    "e.g. repository:alice/app:pull,push"
                )
            wanted = merged.setdefault((kind, name), [])
            for action in actions.split(","):
                if action and action not in wanted:
                    wanted.append(action)
    return [Scope(kind, name, tuple(actions)) for (kind, name), actions in merged.items()]
