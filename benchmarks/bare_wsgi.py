"""The floor of this stack for bench-peers: a WSGI "ok" under the same gunicorn settings, no Django."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
