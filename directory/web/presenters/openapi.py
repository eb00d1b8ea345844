"""The OpenAPI 3 document of the JSON API, built from the same declarations the code uses
(facets, sorts, limits), so the document and the behaviour cannot drift apart."""

from __future__ import annotations

from functools import cache
from typing import Any

from directory.search import (
    DEFAULT_WITHIN_MILES,
    FACET_VALUE_LABELS,
    FACETS,
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_QUERY_LENGTH,
    MAX_QUERY_STRING_LENGTH,
    MAX_SELECTIONS,
    MAX_WITHIN,
    SORT_NAMES,
    WHEN,
    YES_NO,
    facet_vocabulary,
)
from directory.web.presenters import openapi_provider

ERROR = {"$ref": "#/components/schemas/Error"}


def _param(
    name: str, schema: dict[str, Any], description: str, many: bool = False
) -> dict[str, Any]:
    if many:
        return {
            "name": name,
            "in": "query",
            "description": description,
            "schema": {"type": "array", "items": schema, "maxItems": 50},
            "style": "form",
            "explode": True,
        }
    return {"name": name, "in": "query", "description": description, "schema": schema}


def search_parameters() -> list[dict[str, Any]]:
    params = [
        _param(
            "q",
            {"type": "string", "maxLength": MAX_QUERY_LENGTH},
            'Words to find; "quoted phrases" kept together.',
        ),
    ]
    for facet in FACETS:
        vocabulary = facet_vocabulary(facet.name)
        schema: dict[str, Any] = {"type": "string", "maxLength": 200}
        description = f"{facet.label}: any of these values."
        if vocabulary is not None:
            schema["enum"] = list(vocabulary)
            description += " Any other value is refused (400), naming the valid ones."
        labels = FACET_VALUE_LABELS.get(facet.name, {})
        if labels:
            description += " " + "; ".join(f"`{v}`: {label}" for v, label in labels.items()) + "."
        if facet.name == "delivery":
            description += (
                " Each activity has one of the three; everything that can be attended online"
                " is `delivery=online&delivery=both`."
            )
        if facet.name == "mandate":
            description += (
                " The ids of state (and federal: `US-mate-act`) licensure requirements, like"
                " `TX-human-trafficking`; an activity matches one by the topics its provider"
                " tagged (and, where the state counts only approved courses, the approval it"
                " holds). Counts cover every state's; `my_state` says whose a page shows."
            )
        params.append(_param(facet.name, schema, description, many=True))
    params += [
        _param("when", {"type": "string", "enum": list(WHEN)}, "Date window."),
        _param("date_from", {"type": "string", "format": "date"}, "Start of a custom window."),
        _param("date_to", {"type": "string", "format": "date"}, "End of a custom window."),
        _param(
            "credits_min", {"type": "number", "minimum": 0, "maximum": 1000}, "Fewest CME credits."
        ),
        _param(
            "credits_max", {"type": "number", "minimum": 0, "maximum": 1000}, "Most CME credits."
        ),
        _param(
            "claim_within",
            {"type": "integer", "minimum": 0, "maximum": 3650},
            "MOC claim deadline within this many days.",
        ),
        _param(
            "sort",
            {"type": "string", "enum": list(SORT_NAMES)},
            "Order of results. `distance` (nearest first) needs `near` (else 400).",
        ),
        _param(
            "page",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "Page number (at most 100).",
        ),
        _param(
            "per_page",
            {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            "Results per page.",
        ),
        _param(
            "my_state",
            {"type": "string", "maxLength": 40},
            "The physician's licensing state (USPS code like `TX`, or its name): each hit's"
            " `requirements` are that state's (and the federal ones) it may count toward, and"
            " `my_state` in the answer lists them with their counts. It never filters. Not a US"
            " state, DC or territory: 400.",
        ),
        _param(
            "near",
            {"type": "string", "maxLength": 200},
            "A place to search near: a city, `City, ST` or a 5-digit US ZIP code. Keeps"
            " activities with an in-person place within `within`; each hit then has a"
            " `distance`. A place that cannot be found (or one in several states): 400, saying"
            " what to write.",
        ),
        _param(
            "within",
            {"type": "number", "minimum": 1, "maximum": max(MAX_WITHIN.values())},
            f"The radius around `near`, in `unit`s ({DEFAULT_WITHIN_MILES} miles when not"
            " given); at most "
            + " or ".join(f"{v:g} {u}" for u, v in MAX_WITHIN.items())
            + ". Without `near`, or beyond the limit: 400.",
        ),
        _param("unit", {"type": "string", "enum": list(MAX_WITHIN)}, "Unit of `within`."),
        _param(
            "include_online",
            {"type": "string", "enum": sorted(YES_NO)},
            "With `near`, also keep activities that can be attended online, wherever they are."
            " Without `near`: 400.",
        ),
    ]
    return params


def _responses(ok_schema: str, *codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{ok_schema}"}}
            },
        },
        "304": {"description": "Not modified (ETag matched)"},
    }
    texts = {400: "Bad parameters", 404: "Not listed", 410: "Ended", 503: "Search unavailable"}
    for code in codes:
        out[str(code)] = {
            "description": texts[code],
            "content": {"application/json": {"schema": ERROR}},
        }
    return out


@cache
def document() -> dict[str, Any]:
    nullable_string = {"type": ["string", "null"]}
    facet_value = {
        "type": "object",
        "required": ["value", "label", "count", "selected"],
        "properties": {
            "value": {"type": "string"},
            "label": {"type": "string"},
            "count": {"type": "integer", "minimum": 0},
            "selected": {"type": "boolean"},
        },
    }
    badge = {
        "type": "object",
        "required": ["board", "points", "credit_types", "claim_deadline"],
        "properties": {
            "board": {"type": "string"},
            "points": {"type": ["number", "null"]},
            "credit_types": {"type": "array", "items": {"type": "string"}},
            "claim_deadline": nullable_string,
        },
    }
    requirement = {
        "type": "object",
        "description": "A state (or federal) licensure requirement the activity's topic tags"
        " match: never a guarantee; the source and the date it was checked say where to confirm.",
        "required": [
            "id",
            "name",
            "hours",
            "cadence",
            "who",
            "source",
            "checked",
            "approved_only",
        ],
        "properties": {
            "id": {"type": "string"},
            "jurisdiction": {"type": "string", "description": "USPS code, or US (federal)"},
            "jurisdiction_name": {"type": "string"},
            "label": {"type": "string"},
            "name": {"type": "string"},
            "hours": {"type": ["number", "null"]},
            "cadence": {"type": "string", "description": "'every renewal', 'once', ..."},
            "summary": {"type": "string", "description": "'1 hour every 3 renewals'"},
            "who": {"type": "string"},
            "source": {"type": "string"},
            "checked": {"type": "string", "format": "date"},
            "checked_text": {"type": "string"},
            "approved_only": {"type": "boolean"},
            "approver": nullable_string,
        },
    }
    distance = {
        "type": ["object", "null"],
        "description": "With `near`: how far the nearest in-person place is (null: online only).",
        "required": ["value", "unit", "nearest_city"],
        "properties": {
            "value": {"type": "number", "minimum": 0},
            "unit": {"type": "string", "enum": list(MAX_WITHIN)},
            "nearest_city": nullable_string,
            "text": {"type": "string"},
            "places": {"type": "integer", "minimum": 1},
        },
    }
    card = {
        "type": "object",
        "required": [
            "id",
            "title",
            "url",
            "provider",
            "format",
            "when",
            "where",
            "cme_credits",
            "fee",
            "boards",
            "requirements",
        ],
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "url": {"type": "string"},
            "register_url": nullable_string,
            "provider": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "format": {"type": "string"},
            "delivery": {
                "type": "string",
                "enum": list(facet_vocabulary("delivery") or ()),
                "description": "; ".join(
                    f"{v}: {label}" for v, label in FACET_VALUE_LABELS["delivery"].items()
                ),
            },
            "enduring": {"type": "boolean"},
            "when": {"type": "string"},
            "start_date": nullable_string,
            "end_date": nullable_string,
            "where": {"type": "string"},
            "cme_credits": {"type": ["number", "null"]},
            "fee": {"type": "string"},
            "boards": {"type": "array", "items": badge},
            "requirements": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Requirement"},
                "description": "`my_state`'s requirements (and the federal ones) it may count"
                " toward; without `my_state`, the federal ones.",
            },
            "distance": distance,
        },
    }
    my_state = {
        "type": ["object", "null"],
        "required": ["code", "name", "requirements"],
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "requirements": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "label", "count", "selected", "toggle"],
                    "properties": {
                        "id": {"type": "string"},
                        "label": {"type": "string"},
                        "name": {"type": "string"},
                        "summary": {"type": "string"},
                        "count": {"type": "integer", "minimum": 0},
                        "selected": {"type": "boolean"},
                        "toggle": {
                            "type": "string",
                            "description": "this search with the requirement (un)selected",
                        },
                    },
                },
            },
        },
    }
    near = {
        "type": ["object", "null"],
        "required": ["query", "place", "lat", "lon", "within", "unit", "radius_km"],
        "properties": {
            "query": {"type": "string", "description": "the place as given"},
            "place": {"type": "string", "description": "the place understood: 'Omaha, NE'"},
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "within": {"type": "number"},
            "unit": {"type": "string", "enum": list(MAX_WITHIN)},
            "radius_km": {"type": "number"},
            "include_online": {"type": "boolean"},
            "text": {"type": "string", "description": "'within 75 mi of Omaha, NE'"},
        },
    }
    facet = {
        "type": "object",
        "required": ["name", "label", "values"],
        "properties": {
            "name": {"type": "string", "enum": [f.name for f in FACETS]},
            "label": {"type": "string"},
            "values": {"type": "array", "items": facet_value},
        },
    }
    public: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "CME Directory API",
            "version": "1",
            "description": "Search accredited CME activities by board, practice area, MOC credit "
            f"type and more. A search selects at most {MAX_SELECTIONS} facet values in all, in a "
            f"query string of at most {MAX_QUERY_STRING_LENGTH:,} characters (else 400).",
        },
        "paths": {
            "/api/v1/search": {
                "get": {
                    "summary": "Search activities, with facet counts",
                    "operationId": "search",
                    "parameters": search_parameters(),
                    "responses": _responses("SearchResult", 400, 503),
                }
            },
            "/api/v1/facets": {
                "get": {
                    "summary": "Facet counts only",
                    "operationId": "facets",
                    "parameters": search_parameters(),
                    "responses": _responses("Facets", 400, 503),
                }
            },
            "/api/v1/suggest": {
                "get": {
                    "summary": "Typeahead suggestions",
                    "operationId": "suggest",
                    "parameters": [
                        _param(
                            "q", {"type": "string", "maxLength": 100}, "What has been typed so far."
                        ),
                        _param(
                            "limit", {"type": "integer", "minimum": 1, "maximum": 20}, "How many."
                        ),
                    ],
                    "responses": _responses("Suggestions", 400, 503),
                }
            },
            "/api/v1/activities/{activity_id}": {
                "get": {
                    "summary": "One listed activity, from the registry",
                    "operationId": "activity",
                    "parameters": [
                        {
                            "name": "activity_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "format": "int64"},
                        },
                        _param(
                            "my_state",
                            {"type": "string", "maxLength": 40},
                            "The physician's licensing state: which requirements are listed"
                            " (400 if it is no US state).",
                        ),
                    ],
                    "responses": _responses("Activity", 400, 404, 410),
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["status", "message"],
                            "properties": {
                                "status": {"type": "integer"},
                                "message": {"type": "string"},
                                # The public API names bad parameters; the providers' web
                                # service lists each problem of an activity or a file.
                                "problems": {
                                    "anyOf": [
                                        {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        {"type": "array", "items": {"type": "object"}},
                                    ]
                                },
                            },
                        }
                    },
                },
                "Card": card,
                "Requirement": requirement,
                "Facet": facet,
                "SearchResult": {
                    "type": "object",
                    "required": [
                        "total",
                        "page",
                        "per_page",
                        "pages",
                        "sort",
                        "hits",
                        "facets",
                        "links",
                    ],
                    "properties": {
                        "total": {"type": "integer", "minimum": 0},
                        "page": {"type": "integer", "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1},
                        "pages": {"type": "integer", "minimum": 1},
                        "sort": {"type": "string", "enum": list(SORT_NAMES)},
                        "corrected_text": nullable_string,
                        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Card"}},
                        "my_state": my_state,
                        "near": near,
                        "facets": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Facet"},
                        },
                        "links": {
                            "type": "object",
                            "properties": {
                                "self": {"type": "string"},
                                "html": {"type": "string"},
                                "next": nullable_string,
                                "prev": nullable_string,
                            },
                        },
                    },
                },
                "Facets": {
                    "type": "object",
                    "required": ["total", "facets"],
                    "properties": {
                        "total": {"type": "integer"},
                        "facets": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Facet"},
                        },
                    },
                },
                "Suggestions": {
                    "type": "object",
                    "required": ["suggestions"],
                    "properties": {
                        "suggestions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["text", "kind"],
                                "properties": {
                                    "text": {"type": "string"},
                                    "kind": {
                                        "type": "string",
                                        "enum": ["title", "practice_area", "provider"],
                                    },
                                },
                            },
                        }
                    },
                },
                "Activity": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Card"},
                        {
                            "type": "object",
                            "properties": {
                                "description": nullable_string,
                                "objectives": {"type": "array", "items": {"type": "string"}},
                                "occurrences": {"type": "array", "items": {"type": "object"}},
                                "registrations": {"type": "array", "items": {"type": "object"}},
                                "my_state": nullable_string,
                                "topics": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["code", "name", "definition"],
                                        "properties": {
                                            "code": {"type": "string"},
                                            "name": {"type": "string"},
                                            "definition": {"type": "string"},
                                        },
                                    },
                                },
                                "approvals": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["body", "name", "id"],
                                        "properties": {
                                            "body": {"type": "string"},
                                            "name": {"type": "string"},
                                            "id": {"type": "string"},
                                        },
                                    },
                                },
                                "not_approved": {
                                    "type": "array",
                                    "description": "`my_state`'s requirements that count only"
                                    " approved courses, whose topic this activity is tagged"
                                    " with but whose approval it does not hold",
                                    "items": {"$ref": "#/components/schemas/Requirement"},
                                },
                            },
                        },
                    ]
                },
            }
        },
    }
    public["paths"].update(openapi_provider.paths())
    public["components"]["schemas"].update(openapi_provider.schemas())
    public["components"]["securitySchemes"] = openapi_provider.SECURITY_SCHEMES
    return public
