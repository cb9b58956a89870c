"""A small FastAPI (Starlette) app. ``FW_STATE_DIR`` is a directory shared with the test."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

from fastapi import BackgroundTasks, FastAPI, Request, UploadFile
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse

STATE_DIR = Path(os.environ.get("FW_STATE_DIR", "."))
app = FastAPI()
background_done: dict[str, float] = {}


@app.get("/", response_class=PlainTextResponse)
async def index() -> str:
    return "fastapi ok"


@app.get("/stream")
async def stream(n: int = 5, delay: float = 0.3) -> StreamingResponse:
    async def chunks():
        for i in range(n):
            if i:
                await asyncio.sleep(delay)
            yield f"chunk-{i:02d};".encode() * 8

    return StreamingResponse(chunks(), media_type="application/octet-stream")


@app.get("/sse")
async def sse(n: int = 5, delay: float = 0.3) -> EventSourceResponse:
    async def events():
        for i in range(n):
            if i:
                await asyncio.sleep(delay)
            yield {"event": "tick", "id": str(i), "data": f"event-{i:02d}"}

    return EventSourceResponse(events())


async def slow_task(token: str, seconds: float) -> None:
    await asyncio.sleep(seconds)
    background_done[token] = time.time()


@app.post("/background/{token}", response_class=PlainTextResponse)
async def background(token: str, tasks: BackgroundTasks, seconds: float = 1.0) -> str:
    tasks.add_task(slow_task, token, seconds)
    return f"queued {token}"


@app.get("/background/{token}")
async def background_status(token: str) -> dict:
    return {"token": token, "done_at": background_done.get(token)}


@app.api_route("/file/{name}", methods=["GET", "HEAD"])
async def file(name: str) -> FileResponse:
    return FileResponse(STATE_DIR / name, media_type="application/octet-stream")


@app.post("/upload")
async def upload(file: UploadFile) -> dict:
    digest, size = hashlib.sha256(), 0
    while chunk := await file.read(65536):
        digest.update(chunk)
        size += len(chunk)
    return {"filename": file.filename, "size": size, "sha256": digest.hexdigest()}


@app.post("/raw")
async def raw(request: Request) -> dict:
    body = await request.body()
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict:
    return {"item_id": item_id, "q": q}


@app.post("/items", status_code=201)
async def create_item(item: Item) -> dict:
    return {"created": item.model_dump(), "total": round(item.price * 1.2, 2)}
