from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """The production algorithm with few rounds: fast in tests, and its hashes name their
    round count, so a portal process started by the end-to-end tests checks them too."""

    iterations = 1000
