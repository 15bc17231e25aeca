"""A FastAPI app (Debian's python3-fastapi 0.92): pydantic validation, path and query
parameters, an async dependency, a lifespan startup event."""

from typing import Optional

from fastapi import Depends, FastAPI, Header
from pydantic import BaseModel, Field

from markers import mark

app = FastAPI()


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


@app.on_event("startup")
async def startup():
    mark("fastapi-startup", "yes")


async def tenant(x_tenant: str = Header("public")):
    return x_tenant


@app.get("/")
async def root():
    return {"message": "hello from fastapi"}


@app.post("/items")
async def create(item: Item, who: str = Depends(tenant)):
    return {"item": item.dict(), "tenant": who, "total": round(item.price * 1.2, 2)}


@app.get("/items/{item_id}")
def read(item_id: int, q: Optional[str] = None):  # a sync endpoint: FastAPI runs it in a thread
    return {"item_id": item_id, "q": q}
