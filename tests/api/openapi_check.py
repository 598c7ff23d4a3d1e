"""Every API response of the tests checked against the OpenAPI document the app serves: its
status must be documented for the route, and its body must validate (JSON Schema 2020-12, the
document's component references resolved)."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import HTTPException

from stages.api.openapi import build_spec

BASE = "urn:stages-openapi"


class OpenApiChecker:
    """Checks responses against ``build_spec(app)``, which the app serves at /api/v1/openapi.json."""

    def __init__(self, app, document: dict | None = None):
        self.app = app
        self.document = document or build_spec(app)
        self.registry = Registry().with_resource(
            BASE, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )

    def _template(self, path: str) -> str | None:
        adapter = self.app.url_map.bind("stages.test")
        try:
            rule, _ = adapter.match(path, method="GET", return_rule=True)
        except HTTPException:
            return None
        from stages.api.openapi import _path

        return _path(rule.rule)

    def check(self, method: str, url: str, response) -> None:
        """Fail unless ``response`` is what the document says ``method url`` may answer."""
        path = urlsplit(url).path
        template = self._template(path)
        operation = self.document["paths"].get(template, {}).get("get") if template else None
        if operation is None or method != "GET":
            # No documented operation (an unknown URL, a write): a problem, 404 or 405.
            assert response.status_code in (404, 405), (method, url, response.status_code)
            schema = {"$ref": "#/components/schemas/Problem"}
            content_type = "application/problem+json"
        else:
            documented = operation["responses"].get(str(response.status_code))
            assert documented is not None, (url, response.status_code, "status not documented")
            if "content" not in documented:
                assert response.data == b"", (url, response.status_code)
                return
            assert response.mimetype in documented["content"], (url, response.mimetype)
            content_type = response.mimetype
            schema = documented["content"][content_type]["schema"]
        assert response.mimetype == content_type, (url, response.mimetype)
        rewritten = json.loads(json.dumps(schema).replace('"#/components', f'"{BASE}#/components'))
        validator = Draft202012Validator(rewritten, registry=self.registry)
        errors = sorted(validator.iter_errors(response.get_json()), key=str)
        assert errors == [], (url, [e.message for e in errors[:5]])


class ApiClient:
    """A test client for the API whose every response is checked against the document."""

    def __init__(self, client, checker: OpenApiChecker):
        self.client, self.checker = client, checker
        self.responses = 0

    def open(self, url: str, token: str | None = None, method: str = "GET", headers: dict | None = None):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(url, method=method, headers=headers)
        self.checker.check(method, url, response)
        self.responses += 1
        return response

    def get(self, url: str, token: str | None = None, **headers):
        return self.open(url, token, headers=headers)
