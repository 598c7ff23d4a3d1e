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


def _is_margin(grid, i: int, j: int) -> bool:
    """A row or column total (not the grand total): counted negatively in its lines."""
    return (i == len(grid) - 1) != (j == len(grid[0]) - 1)


def _arcs(grid, suppressed, skip=None) -> dict:
    """The moves of the unknowns: an arc row→column when a cell may go one step « up » in the
    signed grid, column→row when it may go « down »; a count may not go below zero."""
    arcs: dict = {}
    for (i, j) in suppressed:
        if (i, j) == skip:
            continue
        value = grid[i][j]
        margin = _is_margin(grid, i, j)
        up_ok = (not margin) or value > 0  # a margin goes up in the signed grid when it shrinks
        down_ok = margin or value > 0
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


def pinned(grid: list[list[int]], suppressed: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The suppressed cells whose value the published figures determine exactly."""
    found = set()
    for (i, j) in suppressed:
        arcs = _arcs(grid, suppressed, skip=(i, j))
        value, margin = grid[i][j], _is_margin(grid, i, j)
        up_ok = (not margin) or value > 0
        down_ok = margin or value > 0
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


def protect(table: list[list[int]]) -> ProtectedTable:
    """Suppress the small counts of ``table`` and enough others that none can be recovered."""
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
        for (i, j) in sorted(pinned(grid, suppressed)):
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
