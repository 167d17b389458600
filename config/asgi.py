from __future__ import annotations

import os
import warnings

from django.core.asgi import get_asgi_application

# whitenoise answers static files with a file iterator, which Django reads in a
# thread under ASGI and warns about: expected, and cheap for files that browsers
# and proxies keep. (Live streams use an async iterator.)
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
