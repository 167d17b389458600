"""A health endpoint for load balancers and the compose healthcheck.

200 "ok": the database and Redis answer. 200 "degraded": Redis is out of
reach, and this process serves from the database alone (config/cache.py);
nothing to restart, it comes back by itself. 503 "error": the database
doesn't answer, and nothing can be served.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.cache import health as cache_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # reported, not raised: this page exists to say what's down
        checks["database"] = f"error: {type(error).__name__}"
    checks["cache"] = cache_health()
    if checks["database"] != "ok":
        status, code = "error", 503
    elif checks["cache"] != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JsonResponse({"status": status, **checks}, status=code)
