"""Build robots' registry credentials: good for pushing to one repository, for one build.

The builder logs in with the username ROBOT_LOGIN and a secret signed with SECRET_KEY that
names the repository, the user the build acts for and an expiry; the token endpoint turns it
into `Principal(user=…, robot_repository_id=…)`, which repos.access lets push to that
repository only and pull what the user may pull.
"""

import time

from django.core import signing

from accounts.models import User
from repos.access import Principal

ROBOT_LOGIN = "_build"
SALT = "dockyard.registry.robot"


class RobotCredentialsError(Exception):
    pass


def issue_robot_secret(repository_id: int, user_id: int | None, lifetime: int) -> str:
    claims = {"repository": repository_id, "user": user_id, "exp": int(time.time()) + lifetime}
    return signing.dumps(claims, salt=SALT)


def robot_principal(secret: str) -> Principal:
    try:
        claims = signing.loads(secret, salt=SALT)
    except signing.BadSignature:
        raise RobotCredentialsError("Unknown build credentials.") from None
    if claims["exp"] < time.time():
        raise RobotCredentialsError("These build credentials have expired.")
    user = None
    if claims["user"] is not None:
        user = User.objects.filter(pk=claims["user"], is_active=True).first()
    return Principal(user=user, robot_repository_id=claims["repository"])
