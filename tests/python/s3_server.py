"""An S3-compatible server on loopback for the object-store registry's tests: moto's S3
(from PyPI, in tests/.venv) served one request at a time.

moto's own `moto_server` answers on several threads, and its conditional writes
(If-None-Match: *, If-Match) check and then write without a lock, so two racing writers
can both win: not what S3 promises and not what the concurrency tests must see. One
request at a time makes each conditional write atomic, as on S3.

Usage: python s3_server.py [PORT]   (0 or none: an ephemeral port)
Prints "listening on http://127.0.0.1:PORT" once it accepts connections, then serves
until killed.
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=False)
    print(f"listening on http://127.0.0.1:{server.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
