"""A small FastAPI app to try ``bench run --app`` on (README's example): JSON, a path
parameter and a POST body.

    bench run --app examples.items:app --endpoint 'GET /items/1' \\
        --endpoint 'POST /items @examples/item.json' --endpoint 'GET /health'
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, object]:
    return {"id": item_id, "name": f"item {item_id}", "price": 9.5}


@app.post("/items", status_code=201)
async def create_item(item: Item) -> dict[str, object]:
    return {"created": item.model_dump(), "total": round(item.price * 1.2, 2)}
