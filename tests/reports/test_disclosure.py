"""Secondary suppression: no suppressed count can be recovered from the published figures.

An attacker knows every published cell and total and that counts are non-negative; for each
suppressed cell they solve two linear programs, its least and its greatest possible value. The
linear programs are solved here by an exact simplex (fractions, Bland's rule) written for the
test, independent of the graph method the application uses.
"""
from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from stages.reports.disclosure import THRESHOLD, pinned, protect, protect_pair, with_margins


def _simplex_min(A, b, c):
    """min c·x subject to A x = b, x ≥ 0 (feasible by construction); None when unbounded."""
    m, n = len(A), len(A[0])
    rows = []
    for row, rhs in zip(A, b):
        row, rhs = [Fraction(v) for v in row], Fraction(rhs)
        if rhs < 0:
            row, rhs = [-v for v in row], -rhs
        rows.append(row + [Fraction(int(i == len(rows))) for i in range(m)] + [rhs])
    basis = [n + i for i in range(m)]

    def pivot(r, col):
        value = rows[r][col]
        rows[r] = [v / value for v in rows[r]]
        for i in range(m):
            if i != r and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * p for a, p in zip(rows[i], rows[r])]
        basis[r] = col

    def run(cost, allowed) -> bool:
        while True:
            entering = next(
                (j for j in allowed if cost[j] - sum(cost[basis[i]] * rows[i][j] for i in range(m)) < 0),
                None,
            )
            if entering is None:
                return True
            ratios = [(rows[i][-1] / rows[i][entering], basis[i], i) for i in range(m) if rows[i][entering] > 0]
            if not ratios:
                return False
            pivot(min(ratios)[2], entering)

    run([Fraction(0)] * n + [Fraction(1)] * m, range(n + m))
    assert all(rows[i][-1] == 0 for i in range(m) if basis[i] >= n), "infeasible: the test is wrong"
    for i in range(m):
        if basis[i] >= n:
            col = next((j for j in range(n) if rows[i][j] != 0), None)
            if col is not None:
                pivot(i, col)
    cost = [Fraction(v) for v in c] + [Fraction(0)] * m
    if not run(cost, range(n)):
        return None
    return sum(cost[basis[i]] * rows[i][-1] for i in range(m))


def _attack(grid, suppressed, upper=None) -> dict:
    """Each suppressed cell's (least, greatest) value given everything published (None: no
    upper bound); ``upper``: known upper bounds of cells (a grid, None where none)."""
    unknowns = sorted(suppressed)
    bounded = [c for c in unknowns if upper is not None and upper[c[0]][c[1]] is not None]
    index = {cell: k for k, cell in enumerate(unknowns)}
    rows, cols = len(grid), len(grid[0])
    A, b = [], []
    lines = [[(i, j) for j in range(cols)] for i in range(rows)] + [[(i, j) for i in range(rows)] for j in range(cols)]
    for line in lines:
        *parts, total = line  # the interior of the line, then its total
        coefficients, rhs = [0] * len(unknowns), 0
        for cell, sign in [(p, 1) for p in parts] + [(total, -1)]:
            if cell in index:
                coefficients[index[cell]] += sign
            else:
                rhs -= sign * grid[cell[0]][cell[1]]
        if any(coefficients):
            A.append(coefficients + [0] * len(bounded))
            b.append(rhs)
        else:
            assert rhs == 0
    for s_index, cell in enumerate(bounded):  # x + slack = bound
        row = [0] * (len(unknowns) + len(bounded))
        row[index[cell]], row[len(unknowns) + s_index] = 1, 1
        A.append(row)
        b.append(upper[cell[0]][cell[1]])
    if not A:
        return {cell: (0, None) for cell in unknowns}
    bounds = {}
    for cell, k in index.items():
        unit = [0] * (len(unknowns) + len(bounded))
        unit[k] = 1
        low = _simplex_min(A, b, unit)
        high = _simplex_min(A, b, [-v for v in unit])
        bounds[cell] = (low, None if high is None else -high)
    return bounds


def _is_pinned(bounds) -> bool:
    low, high = bounds
    return high is not None and low == high


def test_the_attack_recovers_a_lone_suppressed_cell():
    """The test's own solver finds what a naive suppression leaves open."""
    grid = with_margins([[3, 10], [8, 9]])
    assert _attack(grid, {(0, 0)}) == {(0, 0): (3, 3)}
    # Two suppressed cells in a row and column each, but a shared total pins them all the same.
    assert _is_pinned(_attack(grid, {(0, 0), (0, 1)})[(0, 0)])


def test_a_known_table():
    table = [[3, 12, 0], [7, 9, 6], [15, 2, 11]]
    protected = protect(table)
    grid = protected.values
    assert {(0, 0), (2, 1)} <= protected.suppressed
    for cell, bounds in _attack(grid, protected.suppressed).items():
        assert not _is_pinned(bounds), (cell, bounds)


tables = st.integers(1, 4).flatmap(
    lambda rows: st.integers(1, 4).flatmap(
        lambda cols: st.lists(
            st.lists(st.one_of(st.integers(0, 6), st.integers(0, 30)), min_size=cols, max_size=cols),
            min_size=rows, max_size=rows,
        )
    )
)


@settings(max_examples=50, deadline=None)
@given(tables)
def test_no_suppressed_cell_can_be_recovered(table):
    protected = protect(table)
    grid = protected.values
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            published = protected.published(i, j)
            assert published is None or published == value
            assert published is None or not 0 < published < THRESHOLD, "a small count is published"
    for cell, bounds in _attack(grid, protected.suppressed).items():
        assert not _is_pinned(bounds), (table, sorted(protected.suppressed), cell, bounds)


@settings(max_examples=50, deadline=None)
@given(tables, st.data())
def test_the_graph_method_agrees_with_linear_programming(table, data):
    """For any set of suppressed cells (not only protect's), ``pinned`` says exactly which cells
    the linear programs pin down."""
    grid = with_margins(table)
    cells = [(i, j) for i in range(len(grid)) for j in range(len(grid[0]))]
    suppressed = set(data.draw(st.lists(st.sampled_from(cells), max_size=len(cells), unique=True)))
    bounds = _attack(grid, suppressed)
    assert pinned(grid, suppressed) == {cell for cell, b in bounds.items() if _is_pinned(b)}


@settings(max_examples=40, deadline=None)
@given(tables, st.data())
def test_completions_cannot_be_recovered_knowing_they_are_at_most_the_people(table, data):
    """The open statistics publish people and completions of the same cells: an attacker also
    knows that a cell's completions are at most its published people."""
    done = [[data.draw(st.integers(0, value)) for value in row] for row in table]
    people, completed = protect_pair(table, done)
    upper = [[people.published(i, j) for j in range(len(row))] for i, row in enumerate(people.values)]
    for cell, bounds in _attack(completed.values, completed.suppressed, upper).items():
        # A cell whose people are published as 0 has 0 completions, suppressed or not: pinning
        # it says nothing about anyone (CI, 5 December: such zeros were the only cells pinned).
        if upper[cell[0]][cell[1]] == 0:
            continue
        assert not _is_pinned(bounds), (table, done, cell, bounds)
    for cell, bounds in _attack(people.values, people.suppressed).items():
        assert not _is_pinned(bounds), (table, cell, bounds)


@settings(max_examples=40, deadline=None)
@given(tables, st.data())
def test_the_graph_method_agrees_with_linear_programming_under_upper_bounds(table, data):
    grid = with_margins(table)
    cells = [(i, j) for i in range(len(grid)) for j in range(len(grid[0]))]
    suppressed = set(data.draw(st.lists(st.sampled_from(cells), max_size=len(cells), unique=True)))
    upper = [[data.draw(st.one_of(st.none(), st.integers(value, value + 2))) for value in row] for row in grid]
    bounds = _attack(grid, suppressed, upper)
    assert pinned(grid, suppressed, upper) == {cell for cell, b in bounds.items() if _is_pinned(b)}
