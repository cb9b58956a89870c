"""A FastAPI app with WebSocket routes: an echo, a chat room that broadcasts to everyone
connected, and one that rejects with a denial (Starlette's ``send_denial_response``)."""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse

app = FastAPI()
room: list[WebSocket] = []


@app.get("/")
async def index() -> PlainTextResponse:
    return PlainTextResponse("ws app ok")


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol=(websocket.scope["subprotocols"] or [None])[0])
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        pass


@app.websocket("/chat/{name}")
async def chat(websocket: WebSocket, name: str) -> None:
    await websocket.accept()
    room.append(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for member in list(room):
                await member.send_json({"from": name, "text": text})
    except WebSocketDisconnect:
        pass
    finally:
        room.remove(websocket)


@app.websocket("/private")
async def private(websocket: WebSocket) -> None:
    if websocket.query_params.get("token") != "secret":
        await websocket.send_denial_response(PlainTextResponse("go away", status_code=401))
        return
    await websocket.accept()
    await websocket.send_text("welcome")
    await websocket.close(code=4000, reason="that is all")
