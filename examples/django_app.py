"""A Django project in one file: views that call the Official Account API, and a webhook.

- ``POST /accounts/<account_id>/subscribers`` (``{"user_ids": [...]}``) subscribes users;
- ``POST /accounts/<account_id>/messages`` (``{"text": "..."}``) broadcasts a message;
- ``GET /accounts/<account_id>`` answers the account's profile and first subscribers: a plain
  (sync) view, calling the API through a ``tim_oa.SyncSession``;
- ``POST /tim/callback`` receives Tencent's callbacks (set this URL and the token in the Chat
  console): users whose id starts with ``bot_`` are refused as subscribers.

Django offers no startup or shutdown hook to open a session in, so the process opens one on
first use and keeps it. That is safe under both servers: under ASGI every request runs on the
server's one event loop; under WSGI (``runserver``) Django runs each async view in an event loop
of its own, and a session that created its own HTTP client follows the loop it is used on (it
opens a pool there; a loop's pool closes with that loop). The sync view shares one
``SyncSession`` between all threads: its own event-loop thread holds the pool and the limiter.

Run it (``pip install tim-oa "django>=5.0" uvicorn``; the variables are in ``oa_env.py``)::

    export TIM_OA_SDKAPPID=1400000000 TIM_OA_SECRET_KEY=any-test-key
    export TIM_OA_WEBHOOK_TOKEN=my-token          # the console's callback token
    tim-oa emulator serve --port 8080 --webhook-url http://127.0.0.1:8000/tim/callback &
    export TIM_OA_BASE_URL=http://127.0.0.1:8080
    uvicorn --app-dir examples django_app:application
    # or Django's development server: python examples/django_app.py runserver

    curl -s 'localhost:8000/accounts/@TOA%23_news/subscribers' -d '{"user_ids": ["bot_1", "ann"]}'
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
from typing import Any

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=os.environ.get("DJANGO_DEBUG") == "1",
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "tim-oa-example-only"),
        ALLOWED_HOSTS=["localhost", "127.0.0.1", "testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
    )
    django.setup()

# Django's modules below need the settings above.
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

import tim_oa
from tim_oa import webhooks

from oa_env import session_from_env, sync_session_from_env
from oa_http import error_answer

_session: tim_oa.Session | None = None
_session_lock = threading.Lock()  # runserver serves requests on several threads


def get_session() -> tim_oa.Session:
    """The process's one session, opened on first use."""
    global _session
    with _session_lock:
        if _session is None:
            _session = session_from_env()
        return _session


_sync_session: tim_oa.SyncSession | None = None


def get_sync_session() -> tim_oa.SyncSession:
    """The process's one SyncSession, for the sync views (any thread may call it)."""
    global _sync_session
    with _session_lock:
        if _sync_session is None:
            _sync_session = sync_session_from_env()
        return _sync_session


@functools.cache
def get_router() -> webhooks.WebhookRouter:
    """The webhook router, with this app's SDKAppID and callback token."""
    router = webhooks.WebhookRouter(
        sdkappid=int(os.environ["TIM_OA_SDKAPPID"]),
        token=os.environ.get("TIM_OA_WEBHOOK_TOKEN") or None,
    )

    @router.on(webhooks.BeforeAddSubscriber)
    async def vet(event: webhooks.BeforeAddSubscriber) -> webhooks.Answer:
        bots = [user for user in event.user_ids if user.startswith("bot_")]
        return webhooks.RefuseSubscribers(bots) if bots else webhooks.Allow()

    return router


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body, or an empty dict."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def tim_oa_errors(view: Any) -> Any:
    """Answer tim_oa's errors the way ``oa_http.py`` says."""

    @functools.wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response: HttpResponse = await view(request, *args, **kwargs)
        except tim_oa.TimOAError as exc:
            status, body = error_answer(exc)
            return JsonResponse(body, status=status)
        return response

    return wrapper


@csrf_exempt
@require_POST
@tim_oa_errors
async def add_subscribers(request: HttpRequest, account_id: str) -> HttpResponse:
    """Subscribe the users of the body's ``user_ids``."""
    user_ids = read_json(request).get("user_ids")
    if not isinstance(user_ids, list):
        return JsonResponse({"error": "user_ids must be a list"}, status=422)
    report = await get_session().add_subscribers(account_id, user_ids)
    return JsonResponse({"succeeded": report.succeeded, "failed": report.failed})


@csrf_exempt
@require_POST
@tim_oa_errors
async def send_message(request: HttpRequest, account_id: str) -> HttpResponse:
    """Broadcast the body's ``text``."""
    text: Any = read_json(request).get("text")  # tim_oa checks it before anything is sent
    sent = await get_session().send_message(account_id, text)
    return JsonResponse({"msg_key": sent.msg_key, "msg_time": sent.msg_time}, status=201)


@require_GET
def account_profile(request: HttpRequest, account_id: str) -> HttpResponse:
    """A sync view: the account's name and first 20 subscribers, through the SyncSession."""
    oa = get_sync_session()
    try:
        (account,) = oa.get_accounts([account_id])
        if not account.ok:
            return JsonResponse({"error": str(account.error)}, status=404)
        first = oa.subscribers(account_id, page_size=20).collect(limit=20)
    except tim_oa.TimOAError as exc:
        status, body = error_answer(exc)
        return JsonResponse(body, status=status)
    return JsonResponse(
        {
            "name": account.name,
            "subscriber_num": account.subscriber_num,
            "subscribers": [s.user_id for s in first],
        }
    )


@csrf_exempt  # Tencent sends no CSRF token
@require_POST
async def tim_callback(request: HttpRequest) -> HttpResponse:
    """Check one callback, run its handler, and answer it."""
    try:
        answer = await get_router().handle(request.GET, request.body)
    except webhooks.WebhookError as exc:
        status = 403 if exc.reason in {"sdkappid", "signature", "stale"} else 400
        return JsonResponse({"reason": exc.reason, "ErrorInfo": str(exc)}, status=status)
    return JsonResponse(answer)


urlpatterns = [
    path("accounts/<str:account_id>", account_profile),
    path("accounts/<str:account_id>/subscribers", add_subscribers),
    path("accounts/<str:account_id>/messages", send_message),
    path("tim/callback", tim_callback),
]

application = get_asgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
