"""Loads the rulebook files (``scoring/rulebooks/*.yaml``: the current version of each; ``archive/<id>.v<n>.yaml``:
the earlier ones) and validates them at start-up: a broken rulebook stops the service with the file and the
problem named. Earlier versions stay loadable for good: a dossier records the version it was scored under."""

from __future__ import annotations

from pathlib import Path

import yaml

from scoring.domain.rulebook import Rulebook

BUNDLED = Path(__file__).resolve().parents[1] / "rulebooks"
# libyaml's safe loader where PyYAML was built with it (its wheels are): the same documents as the pure-Python
# SafeLoader, about eight times faster; every scoring start and every audit reads all the rulebooks
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RulebookError(Exception):
    pass


class Rulebooks:
    def __init__(self, books: list[Rulebook]) -> None:
        self._by_key = {(b.id, b.version): b for b in books}
        if len(self._by_key) != len(books):
            raise RulebookError("two rulebook files share an id and version")

    @classmethod
    def load(cls, directory: Path = BUNDLED) -> Rulebooks:
        books: list[Rulebook] = []
        current: dict[str, tuple[int, Path]] = {}
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("archive/*.yaml")]):
            try:
                book = Rulebook.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER))
            except Exception as exc:
                raise RulebookError(f"{path}: {exc}") from exc
            books.append(book)
            if path.parent == directory:
                current[book.id] = (book.version, path)
        # the top-level file is the current version: an archived version above it means a file went astray
        for book in books:
            if book.id in current and book.version > current[book.id][0]:
                raise RulebookError(f"{current[book.id][1]}: version {current[book.id][0]} is the current file, "
                                    f"but version {book.version} of {book.id} is archived")
        return cls(books)

    def current(self, rulebook_id: str) -> Rulebook | None:
        versions = [b for (i, _), b in self._by_key.items() if i == rulebook_id]
        return max(versions, key=lambda b: b.version) if versions else None

    def get(self, rulebook_id: str, version: int) -> Rulebook | None:
        return self._by_key.get((rulebook_id, version))

    def versions(self, rulebook_id: str) -> list[int]:
        """Every version of a rulebook that loads: old ones stay, so what was scored under them replays the same."""
        return sorted(v for i, v in self._by_key if i == rulebook_id)

    def every_version(self) -> list[Rulebook]:
        """Every rulebook of every version (the audit's compiled decider is given them all)."""
        return list(self._by_key.values())

    def all_current(self) -> list[Rulebook]:
        ids = sorted({i for i, _ in self._by_key})
        return [b for i in ids if (b := self.current(i)) is not None]
