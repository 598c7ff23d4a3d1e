"""The OpenAPI 3.1 document of ``/api/v1``, generated from the code: each endpoint's route (the
URL map), its summary and response schema (the ``api_read`` decorator, the marshmallow schemas
that also serialize the responses), with apispec.

apispec rather than spectree/pydantic: the marshmallow schemas it reads are the ones that
dump each response, so the document cannot drift from what is sent; it adds no web framework
integration of its own (our views, auth and errors stay ours) and is maintained by the
marshmallow project.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from stages.api import schemas
from stages.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from stages.api.problems import API_PROBLEMS, PROBLEM_TYPE

API_VERSION = "1.0.0"


@dataclass(frozen=True)
class Doc:
    """What the document says of one endpoint (set on its view by ``api_read``)."""

    summary: str
    schema: type
    paginated: bool


def _path(rule: str) -> str:
    """``/api/v1/measures/<int:measure_id>`` → ``/api/v1/measures/{measure_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _problem(code: int) -> dict:
    return {"description": API_PROBLEMS[code][0],
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def build_spec(app: Flask) -> dict:
    """The OpenAPI document of every documented API route of ``app``."""
    spec = APISpec(
        title="API de stages", version=API_VERSION, openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "API en lecture seule : mesures, stages, présence, attestations et bilans "
                             "que le jeton (celui d'une personne, avec son rôle et ses organisations) "
                             "peut voir. Jetons créés sur « Mon compte »."},
    )
    spec.components.security_scheme("jeton", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=schemas.Problem)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        doc = getattr(app.view_functions[rule.endpoint], "api_doc", None)
        if doc is None:
            continue
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
            for name in sorted(rule.arguments)
        ]
        if doc.paginated:
            parameters += [
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
                {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "Le curseur du lien « next » de la page précédente."},
            ]
        parameters.append({"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}})
        responses = {
            "200": {"description": doc.summary, "headers": {"ETag": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": doc.schema}}},
            "304": {"description": "Inchangé depuis l'ETag envoyé dans If-None-Match."},
            "400": _problem(400), "401": _problem(401), "405": _problem(405), "429": _problem(429),
        }
        if rule.arguments:
            responses["404"] = _problem(404)
        spec.path(path=_path(rule.rule), operations={"get": {
            "operationId": rule.endpoint.removeprefix("api."), "summary": doc.summary,
            "security": [{"jeton": []}], "parameters": parameters, "responses": responses,
        }})
    return spec.to_dict()
