"""Protecting Flask routes with a decorator.

    pip install ./bindings/python flask
    JWTAUTH_HS_SECRET=... flask --app flask_app run
"""

import functools

from flask import Flask, g, jsonify, request

from jwtauth import Forbidden, JwtAuth, JwtAuthError

auth = JwtAuth.from_json({"algorithm": "HS256", "store": {"url": "sqlite://example.db"}})
app = Flask(__name__)


def protected(role=None):
    """Runs the view only for a valid bearer token (401 otherwise) carrying `role`
    when given (403 otherwise); the claims are in `g.claims`."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            info = {"client": request.remote_addr or "", "method": request.method, "path": request.path}
            try:
                g.claims = auth.validate_header(request.headers.get("Authorization"), request=info)
            except JwtAuthError as e:
                return jsonify(error="invalid_token", error_description=e.reason), 401, {
                    "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{e.reason}"'
                }
            if role is not None:
                try:
                    auth.require_role(g.claims, role, request=info)
                except Forbidden:
                    return jsonify(error="insufficient_scope"), 403, {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}
            return view(*args, **kwargs)

        return inner

    return wrap


@app.get("/api/hello")
@protected()
def hello():
    return {"hello": g.claims.subject}


@app.get("/api/admin")
@protected(role="Admin")
def admin():
    return {"admin": g.claims.subject}
