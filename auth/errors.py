"""The one error every authentication failure raises, with a reason in plain words."""


class ConnectAuthError(Exception):
    """Authentication failed; ``str(error)`` is safe to show (it never contains the token)."""


class SignatureMismatch(ConnectAuthError):
    """The signature does not verify with the key we hold (which may be stale)."""
