"""A FastAPI JSON endpoint for bench/: a path parameter, a query parameter, a pydantic
response model."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    id: int
    name: str
    price: float
    tags: list[str]


@app.get("/", response_model=Item)
async def item():
    return {"id": 1, "name": "narwhal", "price": 9.5, "tags": ["asgi", "bench"]}
