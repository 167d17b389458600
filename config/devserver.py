"""The development server: uvicorn serving ``config.asgi``, under Django's autoreloader.

    python -m config.devserver [PORT]      # 127.0.0.1:8000 by default

Live pages stream server-sent events, which need an ASGI server; ``runserver``
is WSGI and would answer their streams with "poll instead". Django's own
autoreloader (the one ``runserver`` uses) restarts the server when Python
code changes and drops cached templates when a template does, so editing
feels the same as before. Static files come from whitenoise, which serves
them straight from the source folders in development.
"""

from __future__ import annotations

import os
import sys


def serve(host: str, port: int) -> None:
    import uvicorn

    # In a thread of the reloader, so uvicorn installs no signal handlers: the
    # reloader's process takes Ctrl-C and ends this one.
    uvicorn.run(
        "config.asgi:application",
        host=host,
        port=port,
        log_level="info",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.utils import autoreload

    django.setup()
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    autoreload.run_with_reloader(serve, "127.0.0.1", port)


if __name__ == "__main__":
    main()
