"""The build rule form: Docker Hub's fields, checked by the model's validators, with build
arguments typed as NAME=value lines."""

from django import forms
from django.core.exceptions import ValidationError

from repos.names import TAG_RULE

from .models import BuildRule
from .rules import BUILD_ARG_NAME_RE, PLACEHOLDER_RE, is_regex, matching_tag, pattern


def parse_build_args(text: str) -> dict[str, str]:
    """NAME=value, one a line; blank lines are skipped, and a value may hold '='."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name:
            raise ValidationError(
                f"Line {number} is not NAME=value: write one build argument a line, "
                "such as VERSION=1.2."
            )
        if not BUILD_ARG_NAME_RE.match(name):
            raise ValidationError(
                f"Line {number}: '{name}' is not a build argument name: use letters, digits "
                "and '_', not starting with a digit."
            )
        if name in found:
            raise ValidationError(f"Line {number}: {name} is given twice.")
        found[name] = value
    return found


def format_build_args(build_args: dict[str, str]) -> str:
    # By name: PostgreSQL's jsonb keeps no order.
    return "\n".join(f"{name}={value}" for name, value in sorted(build_args.items()))


class BuildRuleForm(forms.ModelForm):
    build_args = forms.CharField(
        label="Build arguments",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "VERSION=1.2", "spellcheck": "false"}
        ),
        help_text="NAME=value, one a line: passed to the build as --build-arg. Only the "
        "repository's admins see the values.",
    )

    class Meta:
        model = BuildRule
        fields = [
            "source_type",
            "source_ref",
            "docker_tag",
            "dockerfile",
            "context",
            "autobuild",
            "build_args",
        ]
        labels = {"source_type": "Source type", "docker_tag": "Docker tag"}
        widgets = {
            "source_ref": forms.TextInput(attrs={"placeholder": "main", "spellcheck": "false"}),
            "docker_tag": forms.TextInput(attrs={"placeholder": "latest", "spellcheck": "false"}),
            "dockerfile": forms.TextInput(attrs={"spellcheck": "false"}),
            "context": forms.TextInput(attrs={"spellcheck": "false"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["build_args"] = format_build_args(self.instance.build_args or {})
        # The model's validators, run with the field: clean() then sees only valid values.
        for name in ("source_ref", "docker_tag", "dockerfile", "context"):
            self.fields[name].validators.extend(BuildRule._meta.get_field(name).validators)

    def clean_build_args(self) -> dict[str, str]:
        return parse_build_args(self.cleaned_data["build_args"])

    def clean(self) -> dict:
        data = super().clean()
        source_type, source_ref = data.get("source_type"), data.get("source_ref")
        docker_tag = data.get("docker_tag")
        if not (source_type and source_ref and docker_tag):
            return data  # a field's own error says what is wrong
        groups = [
            int(number)
            for found in PLACEHOLDER_RE.finditer(docker_tag)
            if (number := found.group(2)) and number != "0"
        ]
        if is_regex(source_ref):
            available = pattern(source_ref).groups
            for number in groups:
                if number > available:
                    self.add_error(
                        "docker_tag",
                        f"{{\\{number}}} refers to group {number}, but {source_ref} has "
                        f"{available} group{'s' if available != 1 else ''}: put the part to "
                        "keep between parentheses.",
                    )
                    break
        elif groups:
            self.add_error(
                "docker_tag",
                f"{{\\{groups[0]}}} is a regex group, and {source_ref} is a name: use "
                "{sourceref} or a tag, or write the source as a regular expression between "
                "slashes.",
            )
        elif matching_tag(source_type, source_ref, docker_tag, source_type, source_ref) is None:
            self.add_error(
                "docker_tag",
                f"{docker_tag} does not make a valid tag from {source_ref}. {TAG_RULE}",
            )
        return data
