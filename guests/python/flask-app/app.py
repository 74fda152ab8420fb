"""A small Flask app, Flask unmodified from PyPI: routes, a query string, a POST form,
JSON, a cookie and Flask's own 404."""

from flask import Flask, jsonify, make_response, request

app = Flask(__name__)
application = app.wsgi_app


@app.get("/")
def index():
    name = request.args.get("name", "World")
    return f"Hello, {name}!\n", {"Content-Type": "text/plain; charset=utf-8"}


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "GET":
        return '<form method="post"><input name="comment"></form>\n'
    fields = "".join(f"{k}={v}\n" for k, v in sorted(request.form.items(multi=True)))
    return f"posted {len(request.form)} fields\n{fields}", 201


@app.get("/api/items/<int:item>")
def item(item):
    return jsonify(
        item=item,
        path=request.path,
        query={k: request.args.getlist(k) for k in sorted(request.args)},
        agent=request.headers.get("User-Agent"),
    )


@app.get("/visits")
def visits():
    count = int(request.cookies.get("visits", "0")) + 1
    response = make_response(f"visit number {count}\n")
    response.set_cookie("visits", str(count), httponly=True, samesite="Lax")
    return response


@app.errorhandler(405)
def method_not_allowed(error):
    """Werkzeug's 405 lists the allowed methods from a set, whose order depends on
    Python's per-process hash seed; sorted, the answer is the same on every run."""
    response = error.get_response()
    response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response
