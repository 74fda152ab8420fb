"""A Bottle app in its ordinary style: decorated routes with wildcard filters,
SimpleTemplate views from files (with a base layout), JSON from dicts, forms,
cookies, redirects, error pages, and bottle.default_app() as the WSGI callable."""

import os

import bottle
from bottle import abort, error, redirect, request, response, route, template, view

ITEMS = {1: {"name": "Teapot", "price": 12.5}, 2: {"name": "Kettle", "price": 30.0}}


@route("/")
@view("home")
def home():
    return {"name": request.query.name or "World", "path": request.path}


@route("/api/items")
def items():
    return {"items": [dict(id=k, **v) for k, v in ITEMS.items()]}


@route("/api/items/<item_id:int>")
def item(item_id):
    if item_id not in ITEMS:
        abort(404, f"no item {item_id}")
    return dict(id=item_id, **ITEMS[item_id])


@route("/hello/<name>")
def hello(name):
    return template("Hello, {{name}}!\n", name=name)


@route("/form")
def form_page():
    return template("form", action=request.script_name + "form")


@route("/form", method="POST")
def form_post():
    return {"fields": sorted((k, request.forms.getunicode(k)) for k in request.forms)}


@route("/echo", method=["POST", "PUT"])
def echo():
    data = request.body.read()
    response.content_type = "text/plain"
    return f"{len(data)} bytes: {data.decode('utf-8', 'replace')}\n"


@route("/visits")
def visits():
    count = int(request.get_cookie("visits", "0")) + 1
    response.set_cookie("visits", str(count))
    return f"visit {count}\n"


@route("/redirect")
def go():
    redirect("/hello/again")


@route("/unhandled")
def boom():
    raise RuntimeError("bottle boom")


@error(404)
def not_found(err):
    return f"nothing at {request.path}: {err.body}\n"


bottle.TEMPLATE_PATH.insert(0, os.path.join(os.path.dirname(__file__), "views"))
application = bottle.default_app()
