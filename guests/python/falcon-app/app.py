"""A Falcon app in its ordinary style: resource classes with responders, URI
templates with field converters, media (JSON) in and out, a middleware component,
a custom error handler, and falcon.App as the WSGI callable."""

import falcon

ITEMS = {1: {"name": "Teapot", "price": 12.5}, 2: {"name": "Kettle", "price": 30.0}}


class RequestTag:
    """Middleware: every response says which resource answered."""

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("X-Resource", type(resource).__name__ if resource else "-")


class Home:
    def on_get(self, req, resp):
        name = req.get_param("name", default="World")
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"Hello, {name}!\n"


class Items:
    def on_get(self, req, resp):
        resp.media = {"items": [dict(id=k, **v) for k, v in ITEMS.items()]}

    def on_post(self, req, resp):
        item = req.get_media()
        if not isinstance(item, dict) or "name" not in item:
            raise falcon.HTTPBadRequest(title="bad item", description="an object with a name")
        resp.status = falcon.HTTP_201
        resp.media = {"created": item["name"]}


class Item:
    def on_get(self, req, resp, item_id):
        if item_id not in ITEMS:
            raise falcon.HTTPNotFound(description=f"no item {item_id}")
        resp.media = dict(id=item_id, **ITEMS[item_id])

    def on_delete(self, req, resp, item_id):
        resp.status = falcon.HTTP_204


class Echo:
    def on_post(self, req, resp):
        data = req.bounded_stream.read()
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"{len(data)} bytes: {data.decode('utf-8', 'replace')}\n"


class Form:
    def on_post(self, req, resp):
        form = req.get_media()
        resp.media = {"fields": sorted(form.items())} if isinstance(form, dict) else {"fields": []}


class Boom:
    def on_get(self, req, resp):
        raise RuntimeError("falcon boom")


class Teapot(Exception):
    pass


class Brew:
    def on_get(self, req, resp):
        raise Teapot()


def teapot(req, resp, ex, params):
    resp.status = falcon.HTTP_418
    resp.media = {"error": "I am a teapot"}


application = falcon.App(middleware=[RequestTag()])
application.req_options.auto_parse_form_urlencoded = False
application.add_route("/", Home())
application.add_route("/api/items", Items())
application.add_route("/api/items/{item_id:int}", Item())
application.add_route("/echo", Echo())
application.add_route("/form", Form())
application.add_route("/unhandled", Boom())
application.add_route("/brew", Brew())
application.add_error_handler(Teapot, teapot)
