"""Imported by app.py only inside a request."""


def greeting():
    return "imported lazily\n"
