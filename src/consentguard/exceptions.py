"""The exceptions consentguard raises, in one hierarchy.

Errors carry the context needed to fix them: a registry error names the file, the
entry (index and name) and says what to change.
"""

from __future__ import annotations


class ConsentGuardError(Exception):
    """Base class of every error consentguard raises."""


class RegistryError(ConsentGuardError, ValueError):
    """A cookie registry is invalid: built in code or loaded from a file.

    :param problem: what is wrong, in one sentence.
    :param source: the file the registry came from, if any.
    :param index: the position of the offending entry in its list (0-based).
    :param entry: the name of the offending entry (cookie or category).
    :param fix: how to fix it.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        index: int | None = None,
        entry: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.index = index
        self.entry = entry
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.index is not None:
            where.append(f"entry #{self.index}")
        if self.entry is not None:
            where.append(repr(self.entry))
        text = f"{': '.join(where)}: {self.problem}" if where else self.problem
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def __reduce__(self) -> tuple[object, ...]:  # keep pickling (multiprocessing) working
        args = (self.problem, self.source, self.index, self.entry, self.fix)
        return (_rebuild_registry_error, args)


def _rebuild_registry_error(
    problem: str, source: str | None, index: int | None, entry: str | None, fix: str | None
) -> RegistryError:
    return RegistryError(problem, source=source, index=index, entry=entry, fix=fix)


class UndeclaredCookieError(ConsentGuardError):
    """Raised with ``unknown="raise"`` when the app sets a cookie the registry does not declare.

    Meant for development and tests: declare the cookie in the registry, or stop setting it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"The app set the cookie {name!r}, which the registry does not declare. "
            "Fix: add it to the registry with its category (or a pattern such as "
            f"'{name[:4]}*'), or use unknown='block' to drop undeclared cookies."
        )


class ConsentLogError(ConsentGuardError):
    """A proof-of-consent store cannot be used as it is (for example, its schema was written
    by a newer consentguard). Errors of the database itself are raised as the driver's."""
