"""The URL map stays as committed in ``tests/url_map.txt``: bookmarks, links in emails and PDFs,
and the feeds people subscribed to keep working whatever the code's layout."""
from pathlib import Path

COMMITTED = Path(__file__).with_name("url_map.txt")


def _current(app) -> list[str]:
    rows = {
        (rule.rule, ",".join(sorted(rule.methods - {"HEAD", "OPTIONS"})))
        for rule in app.url_map.iter_rules()
    }
    return [f"{methods} {path}" for path, methods in sorted(rows)]


def test_url_map_is_the_committed_one(app):
    committed = [
        line for line in COMMITTED.read_text().splitlines() if line and not line.startswith("#")
    ]
    current = _current(app)
    assert sorted(set(current) - set(committed)) == [], "new URLs: add them to tests/url_map.txt"
    assert sorted(set(committed) - set(current)) == [], "URLs gone: a link somewhere now breaks"
