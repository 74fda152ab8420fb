"""A Pyramid app in its ordinary style: a Configurator, routes with patterns,
view_config views found by a scan, and the JSON, string and Jinja2 (pyramid_jinja2,
templates from files with inheritance) renderers."""

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.response import Response
from pyramid.view import notfound_view_config, view_config

ITEMS = {1: {"name": "Teapot", "price": 12.5}, 2: {"name": "Kettle", "price": 30.0}}


@view_config(route_name="home", renderer="templates/home.jinja2")
def home(request):
    return {"name": request.params.get("name", "World"), "path": request.path}


@view_config(route_name="items", renderer="json")
def items(request):
    return {"items": [dict(id=k, **v) for k, v in ITEMS.items()]}


@view_config(route_name="item", renderer="json")
def item(request):
    item_id = int(request.matchdict["id"])
    if item_id not in ITEMS:
        raise HTTPNotFound()
    return dict(id=item_id, **ITEMS[item_id], url=request.route_url("item", id=item_id))


@view_config(route_name="hello", renderer="string")
def hello(request):
    return f"Hello, {request.matchdict['name']}!"


@view_config(route_name="form", request_method="GET", renderer="templates/form.jinja2")
def form(request):
    return {"action": request.route_path("form")}


@view_config(route_name="form", request_method="POST", renderer="json")
def form_post(request):
    return {"fields": sorted(request.POST.items())}


@view_config(route_name="redirect")
def redirect(request):
    return HTTPFound(location=request.route_url("home", _query={"name": "again"}))


@view_config(route_name="cookie")
def cookie(request):
    visits = int(request.cookies.get("visits", "0")) + 1
    response = Response(f"visit {visits}\n", content_type="text/plain")
    response.set_cookie("visits", str(visits))
    return response


@view_config(route_name="boom")
def boom(request):
    raise RuntimeError("pyramid boom")


@notfound_view_config(renderer="string")
def notfound(request):
    request.response.status = 404
    return f"nothing at {request.path}"


def main():
    with Configurator() as config:
        config.include("pyramid_jinja2")
        config.add_route("home", "/")
        config.add_route("items", "/api/items")
        config.add_route("item", "/api/items/{id:\\d+}")
        config.add_route("hello", "/hello/{name}")
        config.add_route("form", "/form")
        config.add_route("redirect", "/redirect")
        config.add_route("cookie", "/visits")
        config.add_route("boom", "/unhandled")
        config.scan()
        return config.make_wsgi_app()


application = main()
