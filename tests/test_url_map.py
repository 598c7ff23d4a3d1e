"""The URL map stays as committed in ``tests/url_map.txt``: bookmarks, links in emails and PDFs,
and the feeds people subscribed to keep working whatever the code's layout. Parameters are
compared by their converter only (``<int>``): their names are the code's, not the URL's."""
import re
from pathlib import Path

COMMITTED = Path(__file__).with_name("url_map.txt")


def _current(app) -> list[str]:
    rows = {
        (rule.rule, ",".join(sorted(rule.methods - {"HEAD", "OPTIONS"})))
        for rule in app.url_map.iter_rules()
    }
    return [f"{methods} {_unnamed(path)}" for path, methods in sorted(rows)]


def _unnamed(path: str) -> str:
    """``/stages/<int:course_id>`` → ``/stages/<int>``."""
    return re.sub(r"<(?:(\w+)(\([^)]*\))?:)?\w+>", lambda m: f"<{m.group(1) or 'string'}{m.group(2) or ''}>", path)


def test_url_map_is_the_committed_one(app):
    committed = [
        _unnamed(line) for line in COMMITTED.read_text().splitlines() if line and not line.startswith("#")
    ]
    current = _current(app)
    assert sorted(set(current) - set(committed)) == [], "new URLs: add them to tests/url_map.txt"
    assert sorted(set(committed) - set(current)) == [], "URLs gone: a link somewhere now breaks"
