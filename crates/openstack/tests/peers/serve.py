"""Serves a real OpenStack service (Keystone or Glance) from .venv-peers on 127.0.0.1 for
vitrina's wire tests and benchmark.

usage: python serve.py keystone|glance PORT

Configuration comes from the environment, as the services read it under any WSGI server:
OS_KEYSTONE_CONFIG_FILES for Keystone, OS_GLANCE_CONFIG_DIR for Glance. The process exits as
soon as its standard input reaches end of file, so a test that dies never leaves a server behind;
then, when VITRINA_PEERS_REMOVE_DIR names a directory (the peers' temp dir), it removes it.
"""

import os
import shutil
import sys
import threading
import warnings
from wsgiref import simple_server

warnings.simplefilter("ignore")


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def load(kind):
    if kind == "keystone":
        from keystone.server import wsgi

        return wsgi.initialize_public_application()
    if kind == "glance":
        from glance.common import wsgi_app

        return wsgi_app.init_app()
    raise SystemExit(f"unknown service {kind!r}")


def main():
    kind, port = sys.argv[1], int(sys.argv[2])
    # The services parse sys.argv as their own command line.
    sys.argv = [sys.argv[0]]
    app = load(kind)

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(65536):
                pass
        finally:
            remove = os.environ.get("VITRINA_PEERS_REMOVE_DIR")
            if remove:
                shutil.rmtree(remove, ignore_errors=True)
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    server = simple_server.make_server("127.0.0.1", port, app, handler_class=QuietHandler)
    print(f"serving {kind} on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
