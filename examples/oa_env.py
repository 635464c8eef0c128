"""The session of these examples: ``tim_oa.Session.from_env()``, with the command line's settings.

=====================  ===================================================================
``TIM_OA_SDKAPPID``    the app's SDKAppID (required)
``TIM_OA_SECRET_KEY``  the app's SDKSecretKey: the session signs its own UserSigs (preferred)
``TIM_OA_USERSIG``     or a ready UserSig for the admin account (it cannot be renewed)
``TIM_OA_IDENTIFIER``  the App admin account (default ``administrator``)
``TIM_OA_REGION``      the app's region (``singapore``, ``china``, ...; preferred), or
``TIM_OA_BASE_URL``    where to send requests instead (the emulator, a proxy)
``TIM_OA_CONFIG``      a config file with the same keys (and ``TIM_OA_PROFILE``: its profile)
=====================  ===================================================================

To try an example without a Tencent app, serve the emulator and point the examples at it::

    export TIM_OA_SDKAPPID=1400000000 TIM_OA_SECRET_KEY=any-test-key
    tim-oa emulator serve --port 8080 &      # uses TIM_OA_SECRET_KEY as the app's key
    export TIM_OA_BASE_URL=http://127.0.0.1:8080

In a program of your own, call ``tim_oa.Session.from_env()`` directly; nothing here needs copying.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tim_oa

ConfigError = tim_oa.ValidationError
"""What a missing or malformed setting raises; the message names the variable."""


def session_from_env(environ: Mapping[str, str] | None = None, **options: Any) -> tim_oa.Session:
    """A session for the app the environment describes; ``options`` go to ``Session``."""
    return tim_oa.Session.from_env(environ=environ, **options)


def sync_session_from_env(
    environ: Mapping[str, str] | None = None, **options: Any
) -> tim_oa.SyncSession:
    """The same for blocking code (a Django sync view, a Celery task): a ``SyncSession``."""
    return tim_oa.SyncSession.from_env(environ=environ, **options)
