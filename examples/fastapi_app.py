r"""A FastAPI app that shares one tim_oa session between all its requests.

The session is opened in the app's lifespan, before the first request, and closed when the app
stops: one connection pool, one rate limiter and one retry policy for every request the app
serves (a session per request would open a pool per request and pace nothing). Endpoints reach
it through a dependency, and one exception handler turns tim_oa's errors into HTTP answers
(``oa_http.py``).

Run it (``pip install tim-oa fastapi uvicorn``), here against the emulator (see ``oa_env.py``
for the variables; for Tencent set ``TIM_OA_REGION`` and your app's id and key instead)::

    export TIM_OA_SDKAPPID=1400000000 TIM_OA_SECRET_KEY=any-test-key
    tim-oa emulator serve --port 8080 &
    export TIM_OA_BASE_URL=http://127.0.0.1:8080
    uvicorn --app-dir examples fastapi_app:app

    json='content-type: application/json'
    curl -s localhost:8000/accounts -H "$json" \
        -d '{"owner": "107867", "name": "News", "account_id": "@TOA#_news"}'
    curl -s 'localhost:8000/accounts/@TOA%23_news/subscribers' -H "$json" \
        -d '{"user_ids": ["107867", "204511"]}'
    curl -s 'localhost:8000/accounts/@TOA%23_news/subscribers?limit=50'
    curl -s 'localhost:8000/accounts/@TOA%23_news/messages' -H "$json" -d '{"text": "Hello"}'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import tim_oa

from oa_env import session_from_env
from oa_http import error_answer


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the app's one session at startup; close it (and its connections) at shutdown."""
    async with session_from_env() as oa:
        app.state.oa = oa
        yield


app = FastAPI(title="tim_oa example", lifespan=lifespan)


def get_session(request: Request) -> tim_oa.Session:
    """The app's session, for the endpoints (``Depends(get_session)``)."""
    oa: tim_oa.Session = request.app.state.oa
    return oa


Session = Annotated[tim_oa.Session, Depends(get_session)]


@app.exception_handler(tim_oa.TimOAError)
async def tim_oa_error(request: Request, exc: tim_oa.TimOAError) -> JSONResponse:
    """Every failed call of the API becomes one JSON answer (see ``oa_http.py``)."""
    status, body = error_answer(exc)
    return JSONResponse(body, status_code=status)


class NewAccount(BaseModel):
    """The body of ``POST /accounts``."""

    owner: str
    name: str
    account_id: str | None = None
    introduction: str | None = None


class UserIds(BaseModel):
    """The body of ``POST /accounts/{account_id}/subscribers``."""

    user_ids: list[str]


class Text(BaseModel):
    """The body of ``POST /accounts/{account_id}/messages``."""

    text: str


@app.post("/accounts", status_code=201)
async def create_account(body: NewAccount, oa: Session) -> dict[str, str]:
    """Create an Official Account; with an ``account_id`` a retried request cannot make two."""
    account_id = await oa.create_account(
        body.owner, body.name, account_id=body.account_id, introduction=body.introduction
    )
    return {"account_id": account_id}


@app.post("/accounts/{account_id}/subscribers")
async def add_subscribers(account_id: str, body: UserIds, oa: Session) -> dict[str, Any]:
    """Subscribe users: any number of ids, each with its own outcome."""
    report = await oa.add_subscribers(account_id, body.user_ids)
    return {
        "succeeded": report.succeeded,
        "unchanged": report.unchanged,
        "failed": {
            user: type(outcome.error).__name__ if outcome.error else f"Result {outcome.code}"
            for user, outcome in report.outcomes.items()
            if not outcome.ok
        },
    }


@app.get("/accounts/{account_id}/subscribers")
async def list_subscribers(
    account_id: str,
    oa: Session,
    cursor: str = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> dict[str, Any]:
    """One page of subscribers; pass ``next_cursor`` back as ``cursor`` for the next page."""
    page = await anext(oa.subscribers(account_id, page_size=limit, cursor=cursor).pages())
    return {
        "subscribers": [tim_oa.to_dict(subscriber) for subscriber in page.items],
        "total": page.total,
        "next_cursor": page.next_cursor,
    }


@app.post("/accounts/{account_id}/messages", status_code=201)
async def send_message(account_id: str, body: Text, oa: Session) -> dict[str, Any]:
    """Broadcast a text message to every subscriber of the account."""
    sent = await oa.send_message(account_id, body.text)
    return {"msg_key": sent.msg_key, "msg_time": sent.msg_time}
