"""URLconf and views of ``django_app``."""

from __future__ import annotations

import asyncio

from django.contrib import admin
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path


def hello(request):
    response = HttpResponse(f"django ok {request.method} {request.path}", content_type="text/plain")
    response["X-Framework"] = "django"
    return response


async def item(request, item_id: int):
    return JsonResponse({"item_id": item_id, "q": request.GET.get("q")})


async def stream(request):
    n = int(request.GET.get("n", 5))
    delay = float(request.GET.get("delay", 0.3))

    async def chunks():
        for i in range(n):
            if i:
                await asyncio.sleep(delay)
            yield f"chunk-{i:02d};".encode() * 8

    return StreamingHttpResponse(chunks(), content_type="application/octet-stream")


urlpatterns = [
    path("hello/", hello),
    path("items/<int:item_id>/", item),
    path("stream/", stream),
    path("admin/", admin.site.urls),
]
