"""Every API call is logged: key, company, method, path, status and time taken (AP1)."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

API_PREFIX = "/api/"


class ApiCallLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        key = getattr(request, "api_key", None)
        try:
            from .models import ApiCall

            ApiCall.objects.create(
                company_id=key.company_id if key is not None else None,
                key=key,
                method=request.method[:8],
                path=request.path[:300],
                status=response.status_code,
                duration_ms=int((time.perf_counter() - started) * 1000),
                ip=request.META.get("REMOTE_ADDR") or None,
            )
        except Exception:  # the log must never turn an answer into an error
            log.exception("could not log API call %s %s", request.method, request.path)
        return response
