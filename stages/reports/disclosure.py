"""Statistical disclosure control for a published two-way table with its margins.

The open statistics publish, per year, tables « département × cadre légal » with their row
totals, column totals and grand total. A count below ``THRESHOLD`` (1 to 4 people) could point
at someone: it is suppressed (primary suppression). A suppressed cell could still be computed
back from a published total, so more cells are suppressed (secondary suppression) until no
suppressed figure can be recovered from every figure published, nor pinned down by the counts
being non-negative.

The table and its margins are treated as one grid of (n + 1) × (m + 1) cells, the totals in the
last row and column, every one of them a cell that may be suppressed (a département's total
below 5 is as telling as a cell). With the margins counted negatively, every line of the grid
sums to zero, so the unknown (suppressed) cells can only move together along cycles of the
bipartite graph « line ↔ column » they form: a suppressed cell keeps more than one possible
value exactly when a cycle through it can move by one unit (the matrix is totally unimodular:
a real range wider than a point holds two integers) without making a count negative. That is a
reachability question in a directed graph, answered exactly and quickly here (``pinned``); the
tests check it against a linear program written in the test.

The method: primary suppression; then, repeatedly, every line holding exactly one suppressed
cell gets its smallest other cell suppressed; then any cell still pinned down gets the smallest
free cell of its line (or, its lines full, of the table) suppressed; until nothing changes. It
always ends: each round suppresses at least one more cell, and a fully suppressed table reveals
nothing (every count could be one higher).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# Counts from 1 to THRESHOLD - 1 are never published. Zero is published: it says no one.
THRESHOLD = 5


@dataclass
class ProtectedTable:
    """A grid with its totals (last row and column) and which cells are suppressed."""

    values: list[list[int]]
    suppressed: set[tuple[int, int]]

    def published(self, i: int, j: int) -> int | None:
        """The figure to publish, or None for a suppressed one."""
        return None if (i, j) in self.suppressed else self.values[i][j]


def with_margins(table: list[list[int]]) -> list[list[int]]:
    """``table`` plus a total column, a total row and the grand total."""
    rows = [list(row) + [sum(row)] for row in table]
    width = len(rows[0]) if rows else 1
    rows.append([sum(row[j] for row in rows) for j in range(width)])
    return rows


def is_sensitive(value: int) -> bool:
    return 0 < value < THRESHOLD


def protect_pair(people: list[list[int]], completed: list[list[int]]) -> tuple[ProtectedTable, ProtectedTable]:
    """Two tables of the same shape where each cell of ``completed`` is at most the same cell of
    ``people``: the people's published figures bound the completions, and are used so."""
    first = protect(people)
    upper = [
        [first.published(i, j) for j in range(len(first.values[0]))] for i in range(len(first.values))
    ]
    return first, protect(completed, upper)


def _is_margin(grid, i: int, j: int) -> bool:
    """A row or column total (not the grand total): counted negatively in its lines."""
    return (i == len(grid) - 1) != (j == len(grid[0]) - 1)


def _moves(grid, upper, i: int, j: int) -> tuple[bool, bool]:
    """Whether cell (i, j) may go one step up, and one step down, in the signed grid: a count
    may not go below zero, nor above its known upper bound (``upper``, when given)."""
    value = grid[i][j]
    cap = upper[i][j] if upper is not None else None
    can_grow, can_shrink = cap is None or value < cap, value > 0
    if _is_margin(grid, i, j):  # counted negatively: up in the signed grid is a smaller total
        return can_shrink, can_grow
    return can_grow, can_shrink


def _arcs(grid, suppressed, upper=None, skip=None) -> dict:
    """The moves of the unknowns: an arc row→column when a cell may go one step « up » in the
    signed grid, column→row when it may go « down »."""
    arcs: dict = {}
    for (i, j) in suppressed:
        if (i, j) == skip:
            continue
        up_ok, down_ok = _moves(grid, upper, i, j)
        if up_ok:
            arcs.setdefault(("r", i), []).append(("c", j))
        if down_ok:
            arcs.setdefault(("c", j), []).append(("r", i))
    return arcs


def _reaches(arcs, start, goal) -> bool:
    seen, queue = {start}, deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            return True
        for nxt in arcs.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return False


def pinned(grid: list[list[int]], suppressed: set[tuple[int, int]], upper=None) -> set[tuple[int, int]]:
    """The suppressed cells whose value the published figures determine exactly (``upper``: a
    grid of known upper bounds, None where there is none)."""
    found = set()
    for (i, j) in suppressed:
        arcs = _arcs(grid, suppressed, upper, skip=(i, j))
        up_ok, down_ok = _moves(grid, upper, i, j)
        movable = (up_ok and _reaches(arcs, ("c", j), ("r", i))) or (
            down_ok and _reaches(arcs, ("r", i), ("c", j))
        )
        if not movable:
            found.add((i, j))
    return found


def _smallest(grid, candidates, suppressed):
    """The free cell that hides least (the smallest count; a positive one before a zero, which
    can only move up)."""
    free = [c for c in candidates if c not in suppressed]
    if not free:
        return None
    return min(free, key=lambda c: (grid[c[0]][c[1]] == 0, grid[c[0]][c[1]], c))


def protect(table: list[list[int]], upper=None) -> ProtectedTable:
    """Suppress the small counts of ``table`` and enough others that none can be recovered.

    ``upper``: what is known to bound each cell from above (a grid with margins, None where
    nothing is), e.g. the published number of people bounds the completions of the same cell."""
    grid = with_margins(table)
    rows, cols = len(grid), len(grid[0])
    suppressed = {(i, j) for i in range(rows) for j in range(cols) if is_sensitive(grid[i][j])}
    lines = [[(i, j) for j in range(cols)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    while True:
        changed = False
        for line in lines:
            if sum(c in suppressed for c in line) == 1:
                cell = _smallest(grid, line, suppressed)
                if cell is not None:
                    suppressed.add(cell)
                    changed = True
        if changed:
            continue
        for (i, j) in sorted(pinned(grid, suppressed, upper)):
            cell = (
                _smallest(grid, lines[i], suppressed)
                or _smallest(grid, lines[rows + j], suppressed)
                or _smallest(grid, [c for line in lines[:rows] for c in line], suppressed)
            )
            if cell is not None:
                suppressed.add(cell)
                changed = True
                break
        if not changed:
            return ProtectedTable(grid, suppressed)
