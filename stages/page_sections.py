"""Pages of a lower area that show what higher areas hold, and events they must follow up.

Imports run one way (STYLE.md): the course page (scheduling) cannot import the attendance,
certificates or reports areas, yet it shows their parts of a course. So the higher area
registers with the lower one at start-up: a ``PageSections`` loader adds its context (and a
template to include) to the page, a ``Hook`` handler follows up an action (a cancelled course's
convocations withdrawn). The lower area only runs what was registered.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

Loader = Callable[..., dict | None]


@dataclass(frozen=True)
class _Section:
    load: Loader
    template: str | None
    slot: str
    position: int


class PageSections:
    """The parts higher areas add to one page."""

    def __init__(self) -> None:
        self._sections: list[_Section] = []

    def add(self, *, template: str | None = None, slot: str = "main", position: int = 50):
        """Register ``load(**context) -> dict | None`` (decorator).

        Loaders run in registration order (the areas' order, so a higher area reads what a lower
        one loaded) and see the page's context so far; the dict they return joins it. When it is
        not None, ``template`` is included in ``slot``, ordered by ``position``.
        """

        def register(load: Loader) -> Loader:
            self._sections.append(_Section(load, template, slot, position))
            return load

        return register

    def build(self, **context) -> dict:
        """The page's context, with what every registered loader adds and ``sections``: the
        templates to include, per slot, in order."""
        shown: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for section in self._sections:
            extra = section.load(**context)
            if extra is None:
                continue
            context.update(extra)
            if section.template:
                shown[section.slot].append((section.position, section.template))
        context["sections"] = {
            slot: [template for _, template in sorted(items)] for slot, items in shown.items()
        }
        return context


class Hook:
    """An action of a lower area that higher areas follow up, each with a registered handler."""

    def __init__(self) -> None:
        self._handlers: list[Callable] = []

    def register(self, handler: Callable) -> Callable:
        """Register ``handler`` (decorator); it is run with the action's arguments."""
        self._handlers.append(handler)
        return handler

    def run(self, *args, **kwargs) -> list:
        """Run every handler; returns what each returned (None left out)."""
        results = (handler(*args, **kwargs) for handler in self._handlers)
        return [result for result in results if result is not None]
