"""Reference-count drift of shared objects across requests (issue 13 item 1).

    .venv/bin/python -m bench.refcount_drift [--rounds 6 --requests 300 --threads 1]

A use-after-free such as the worker crash of bench/LOAD.md is very often a C extension that
gives away a reference it does not own (a missing ``Py_INCREF``, or a ``Py_DECREF`` too many):
each time the faulty path runs, the count of some shared object — ``True``, ``None``, a small
integer, an enum member, an interned string — goes down by one, until it reaches zero while
still in use and its memory is freed under everybody's feet. That is invisible for thousands
of requests, then fatal at a random place; it needs no thread at all, but threads make the
moment it breaks more random still.

This probe runs the crash's pages in ONE process (the same demo database and page mix as
``bench.crash_stress``), collects the garbage, and reads the reference counts of those shared
objects after each round of requests. Counts that only grow or move both ways are caches and
live objects; a count that goes **down round after round** (after the first, warming round)
names the object a C extension is freeing too often, and the page that does it can then be
found by running the pages one by one (``--pages``).
"""
from __future__ import annotations

import argparse
import enum
import gc
import os
import random
import sys
import threading

from bench.crash_stress import PAGES, WEIGHTS, _csrf, one_request, setup
from bench.databases import drop_database, fresh_database
from bench.load import DEFAULT_DATABASE, PASSWORD


def shared_objects() -> dict[str, object]:
    """The objects every request uses and nobody owns: the ones a stray DECREF would free."""
    found = {"None": None, "True": True, "False": False, "()": (), "''": "", "b''": b"",
             "Ellipsis": Ellipsis, "NotImplemented": NotImplemented}
    found.update({f"int {i}": i for i in range(-5, 257)})
    for name, module in list(sys.modules.items()):
        if not name.startswith(("stages.", "sqlalchemy.", "psycopg")) or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, type) and issubclass(value, enum.Enum) and value.__module__ == name:
                for member in value:
                    found[f"{value.__qualname__}.{member.name}"] = member
    return found


def run_round(clients, ids, requests, pages, rng):
    statuses = {}
    for _ in range(requests):
        _kind, _path, status = one_request(rng.choice(clients), ids, rng, pages)
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    args = parser.parse_args(argv)
    chosen = [p for p in args.pages.split(",") if p]
    pages = ([p for p in PAGES if p in chosen], [w for p, w in zip(PAGES, WEIGHTS) if p in chosen])
    name = f"stages_drift_{os.getpid()}"
    os.environ.update(DATABASE_URL=fresh_database(args.database, name), SECRET_KEY=os.urandom(16).hex(),
                      STAGES_MAIL_BACKEND="file", STAGES_LOGIN_RATE_LIMIT="100000 per minute",
                      STAGES_INSTANCE_DIR=f"/tmp/{name}")
    try:
        from stages import create_app

        app = create_app()
        ids = setup(app, 4)
        clients = []
        for email in ids["emails"]:
            client = app.test_client()
            html = client.get("/connexion").get_data(as_text=True)
            client.post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(html)})
            clients.append(client)
        objects = shared_objects()
        history = []
        for round_ in range(args.rounds):
            results = []
            workers = [threading.Thread(target=lambda seed: results.append(
                run_round(clients, ids, args.requests // args.threads, pages, random.Random(seed))),
                args=(round_ * 100 + t,)) for t in range(args.threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            gc.collect()
            counts = {key: sys.getrefcount(value) for key, value in objects.items()}
            history.append(counts)
            print(f"round {round_ + 1}: {results}", flush=True)
        # After the warming round: the objects whose count went down in every later round.
        falling = []
        for key in objects:
            series = [h[key] for h in history[1:]]
            steps = [b - a for a, b in zip(series, series[1:])]
            if steps and all(s < 0 for s in steps):
                falling.append((key, series))
        print(f"{len(objects)} shared objects watched over {args.rounds} rounds of {args.requests} requests")
        if not falling:
            print("no count fell in every round after the first")
        for key, series in falling:
            print(f"FALLING {key}: {series}")
        moving = [(k, [h[k] for h in history]) for k in objects
                  if len({h[k] for h in history[1:]}) > 1 and (k, None) not in falling]
        for key, series in moving[:40]:
            print(f"  moves {key}: {series}")
        return 1 if falling else 0
    finally:
        drop_database(args.database, name)


if __name__ == "__main__":
    sys.exit(main())
