"""bench/helgrind_races.py keeps a race an extension causes and drops CPython's own GIL
signalling, on reports shaped as helgrind writes them (trimmed from the runs of bench/LOAD.md)."""
from __future__ import annotations

from bench.helgrind_races import main, races

SEPARATOR = "==17247== ----------------------------------------------------------------\n"


def _report(address: str, *frames: str, conflict: str) -> str:
    lines = [f"==17247== Possible data race during write of size 4 at {address} by thread #2",
             "==17247== Locks held: none"]
    lines += [f"==17247==    {'at' if i == 0 else 'by'} 0x4AAA8B{i}: {frame}"
              for i, frame in enumerate(frames)]
    lines += ["==17247== ", "==17247== This conflicts with a previous read of size 4 by thread #1",
              f"==17247==    at 0x4957CDD: {conflict}", "==17247== "]
    return "\n".join(lines) + "\n"


GIL = _report("0x4DB7BE0", "SET_GIL_DROP_REQUEST (ceval.c:242)", "take_gil (ceval_gil.h:254)",
              conflict="eval_frame_handle_pending (ceval.c:1196)")
# The same word read in the evaluation loop: no GIL function on its stacks, same address.
GIL_READ = _report("0x4DB7BE0", "_PyEval_EvalFrameDefault (ceval.c:4788)",
                   conflict="_PyEval_EvalFrameDefault (ceval.c:1748)")
STACK_CACHE = _report("0x138656C0", "memset (in vgpreload_helgrind-amd64-linux.so)",
                      "get_cached_stack (allocatestack.c:137)",
                      conflict="calloc (in vgpreload_helgrind-amd64-linux.so)")
EXTENSION = _report("0x53836A0", "Py_INCREF (object.h:502)", "Py_IncRef (object.c:130)",
                    "bump_after_wait (bump.c:5)",
                    conflict="Py_INCREF (object.h:502)")


def _log(*reports: str) -> str:
    return "==17247== Helgrind, a thread error detector\n" + "".join(
        SEPARATOR + "\n" + report for report in reports)


def test_cpython_signalling_and_the_stack_cache_are_left_out():
    kept, left_out = races(_log(GIL, GIL_READ, STACK_CACHE))
    assert (kept, left_out) == ([], 3)


def test_a_race_of_an_extension_is_kept(tmp_path, capsys):
    kept, left_out = races(_log(GIL, EXTENSION, GIL_READ))
    assert left_out == 2 and len(kept) == 1 and "bump_after_wait" in kept[0]
    log = tmp_path / "hg.17247.log"
    log.write_text(_log(GIL, EXTENSION))
    assert main([str(log)]) == 1
    assert "1 others" in capsys.readouterr().out
    log.write_text(_log(GIL, GIL_READ))
    assert main([str(log)]) == 0
