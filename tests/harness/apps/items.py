"""A small Starlette app standing in for "your own app" (--app tests): JSON, a path
parameter, a POST body, and one endpoint that answers wrongly on purpose."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"id": int(request.path_params["item_id"]), "name": "widget"})


async def create(request: Request) -> JSONResponse:
    document = await request.json()
    return JSONResponse({"created": document, "bytes": len(await request.body())},
                        status_code=201)


async def broken(request: Request) -> JSONResponse:
    return JSONResponse({"id": 1})  # lacks "name": a workload expecting it must fail


app = Starlette(routes=[
    Route("/health", health),
    Route("/items/{item_id:int}", item),
    Route("/items", create, methods=["POST"]),
    Route("/broken", broken),
])
