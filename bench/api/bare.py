"""The baseline of bench/api: a bare FastAPI app with one empty route, served by uvicorn alike."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def empty() -> dict[str, str]:
    return {"status": "ok"}
