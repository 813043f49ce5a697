"""Vietnamese first, English on request: the language of this request and a pair-picking helper.

Texts are written as (Vietnamese, English) pairs where they are used, so a page's source
reads in both languages and no catalogue can drift from it.
"""
from __future__ import annotations

from flask import g, request
from flask_login import current_user

LANGS = ("vi", "en")


def current_lang() -> str:
    lang = getattr(g, "lang", None)
    if lang:
        return lang
    asked = request.args.get("lang") or request.cookies.get("lang")
    if asked not in LANGS and getattr(current_user, "is_authenticated", False):
        asked = getattr(current_user, "lang", None)
    g.lang = asked if asked in LANGS else "vi"
    return g.lang


def t(vi: str, en: str) -> str:
    return en if current_lang() == "en" else vi


def init_app(app) -> None:
    app.jinja_env.globals.update(t=t, current_lang=current_lang)

    @app.after_request
    def remember_lang(response):
        asked = request.args.get("lang")
        if asked in LANGS:
            response.set_cookie("lang", asked, max_age=365 * 86400, samesite="Lax",
                                httponly=True, secure=app.config.get("SESSION_COOKIE_SECURE", False))
        return response
