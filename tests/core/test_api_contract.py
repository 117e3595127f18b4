"""The API's own contract: unknown routes answer the JSON error; schema names are unique."""

from __future__ import annotations

from vein2vein.api import api


def test_an_unknown_api_path_answers_json_404(client, admin_user) -> None:  # type: ignore[no-untyped-def]
    client.force_login(admin_user)
    for path in ("/api/v1/no-such-thing", "/api/v1/chain/orders/1/no-such-action", "/api/v1/x/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/json"), path
        body = response.json()
        assert body["field"] is None and "no API route" in body["detail"]


def test_no_two_schemas_share_a_name_with_different_fields() -> None:
    """ninja names OpenAPI components by class name: two different models with one name make
    one shadow the other in the document (schemathesis ST105/ST108). Same-named copies with
    the same fields are harmless; different fields are a collision."""
    from ninja import Schema

    by_name: dict[str, dict[str, object]] = {}
    collisions = []
    for cls in _subclasses(Schema):
        if not cls.__module__.startswith("vein2vein."):
            continue
        shape = cls.model_json_schema()
        seen = by_name.setdefault(cls.__name__, {"module": cls.__module__, "shape": shape})
        if seen["shape"] != shape:
            collisions.append(f"{cls.__name__}: {seen['module']} and {cls.__module__}")
    assert not collisions, collisions
    assert "components" in api.get_openapi_schema()


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out
