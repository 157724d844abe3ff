"""Protecting FastAPI routes with a dependency.

    pip install ./bindings/python fastapi uvicorn
    JWTAUTH_HS_SECRET=... uvicorn fastapi_app:app

A route states what it needs in its signature: `claims: Claims = Depends(bearer)`
for any valid token, `Depends(role("Admin"))` for a role.
"""

from typing import Optional

from fastapi import Depends, FastAPI, Header, HTTPException, Request

from jwtauth import Claims, Forbidden, JwtAuth, JwtAuthError

auth = JwtAuth.from_json({"algorithm": "HS256", "store": {"url": "sqlite://example.db"}})
app = FastAPI()


def _request_info(request: Request) -> dict:
    client = f"{request.client.host}:{request.client.port}" if request.client else ""
    return {"client": client, "method": request.method, "path": request.url.path}


def bearer(request: Request, authorization: Optional[str] = Header(default=None)) -> Claims:
    """The verified claims of the request's bearer token, or 401 (RFC 6750)."""
    try:
        return auth.validate_header(authorization, request=_request_info(request))
    except JwtAuthError as e:
        raise HTTPException(
            401, detail=e.reason, headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{e.reason}"'}
        ) from None


def role(name: str):
    """A dependency: the claims, which must carry role `name`, or 403."""

    def check(request: Request, claims: Claims = Depends(bearer)) -> Claims:
        try:
            auth.require_role(claims, name, request=_request_info(request))
        except Forbidden:
            raise HTTPException(403, detail="insufficient_role", headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'}) from None
        return claims

    return check


@app.get("/api/hello")
def hello(claims: Claims = Depends(bearer)) -> dict:
    return {"hello": claims.subject}


@app.get("/api/admin")
def admin(claims: Claims = Depends(role("Admin"))) -> dict:
    return {"admin": claims.subject}
