"""The data races in a helgrind log that are not CPython's own GIL signalling (issue 13).

    python -m bench.helgrind_races /tmp/hg/hg.1234.log

CPython 3.11 reads and writes a few words of its runtime without a lock, by design: the flags
that ask the thread holding the GIL to hand it over (``eval_breaker``, ``gil_drop_request``,
``gil->locked``), the pending-signal flags, the allocator's reset at exit. Helgrind reports each
of them as a possible race. A report is left out when its address is one of those words (some
report at that address names one of the functions below); every other report is printed, with
its stacks, and the exit status is 1 if there is any. Also left out: glibc's reuse of a thread's
stack (``get_cached_stack``), a known false report of helgrind's.
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

GIL_SIGNALLING = (
    "SET_GIL_DROP_REQUEST", "RESET_GIL_DROP_REQUEST", "drop_gil", "take_gil",
    "eval_frame_handle_pending", "COMPUTE_EVAL_BREAKER", "SIGNAL_PENDING_SIGNALS",
    "_PyEval_SignalReceived", "_PyErr_CheckSignalsTstate", "PyMem_SetAllocator", "create_gil",
)
KNOWN_FALSE = ("get_cached_stack",)
_SEPARATOR = re.compile(r"\n==\d+== -{20,}\n")
_RACE = re.compile(r"Possible data race during \w+ of size \d+ at (0x[0-9A-Fa-f]+)")
_FRAME = re.compile(r"(?:at|by) 0x[0-9A-Fa-f]+: (.*)")


def races(log: str) -> tuple[list[str], int]:
    """The race reports of ``log`` that remain, and how many were left out."""
    reports = [block for block in _SEPARATOR.split(log) if _RACE.search(block)]
    signalling = {_RACE.search(block)[1] for block in reports
                  if any(name in block for name in GIL_SIGNALLING)}
    kept = [block for block in reports
            if _RACE.search(block)[1] not in signalling
            and not any(name in block for name in KNOWN_FALSE)]
    return kept, len(reports) - len(kept)


def main(argv: list[str] | None = None) -> int:
    paths = argv if argv is not None else sys.argv[1:]
    remaining = 0
    for path in paths:
        kept, left_out = races(Path(path).read_text(errors="replace"))
        print(f"{path}: {len(kept) + left_out} races reported, {left_out} of CPython's GIL "
              f"signalling or known false, {len(kept)} others")
        where = Counter(" <- ".join(_FRAME.findall(block)[:4]) for block in kept)
        for stack, count in where.most_common():
            print(f"  {count} × {stack}")
        for block in kept:
            print(block)
        remaining += len(kept)
    return 1 if remaining else 0


if __name__ == "__main__":
    raise SystemExit(main())
