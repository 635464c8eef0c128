"""Receive, verify and answer the eleven Official Account callbacks (Tencent → your backend).

Parse one callback yourself::

    from tim_oa import webhooks

    event = webhooks.parse_event(query, body, sdkappid=1400000000, token="my-token")

or let a router check it, run your handler under a deadline, and build the answer::

    router = webhooks.WebhookRouter(sdkappid=1400000000, token="my-token")

    @router.on(webhooks.BeforeAddSubscriber)
    async def vet(event: webhooks.BeforeAddSubscriber) -> webhooks.Answer:
        bots = [u for u in event.user_ids if u.startswith("bot")]
        return webhooks.RefuseSubscribers(bots) if bots else webhooks.Allow()

    answer = await router.handle(query, body)  # the JSON to send back
    app = router.asgi_app()  # or mount this in FastAPI / Starlette

Modules: ``_events`` (the event classes and how a body is read), ``_answers`` (the answers and
their JSON), ``_auth`` (``Sign``), ``_parse`` (the checks of one request, in order), ``_router``
(handlers, deadline, defaults), ``_asgi`` (the HTTP adapter).
"""

from .._errors import WebhookError
from ._answers import MAX_INFO_BYTES, Allow, Answer, Drop, Refuse, RefuseSubscribers, ReplaceMessage
from ._asgi import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, WebhookApp
from ._auth import callback_query, sign
from ._events import (
    EVENT_TYPES,
    AfterAccountDestroyed,
    AfterAccountFull,
    AfterAccountInfoChanged,
    AfterAddSubscriber,
    AfterCreateAccount,
    AfterDeleteSubscriber,
    AfterRecallMessages,
    AfterSendMessage,
    BeforeAddSubscriber,
    BeforeCreateAccount,
    BeforeSendMessage,
    CallbackContext,
    Event,
)
from ._parse import RawCallback, parse_event
from ._router import DEFAULT_DEADLINE, DEFAULT_MAX_THREADS, WebhookRouter

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_THREADS",
    "EVENT_TYPES",
    "MAX_INFO_BYTES",
    "AfterAccountDestroyed",
    "AfterAccountFull",
    "AfterAccountInfoChanged",
    "AfterAddSubscriber",
    "AfterCreateAccount",
    "AfterDeleteSubscriber",
    "AfterRecallMessages",
    "AfterSendMessage",
    "Allow",
    "Answer",
    "BeforeAddSubscriber",
    "BeforeCreateAccount",
    "BeforeSendMessage",
    "CallbackContext",
    "Drop",
    "Event",
    "RawCallback",
    "Refuse",
    "RefuseSubscribers",
    "ReplaceMessage",
    "WebhookApp",
    "WebhookError",
    "WebhookRouter",
    "callback_query",
    "parse_event",
    "sign",
]
