"""Build a ``tim_oa.Session`` from the environment variables the ``tim-oa`` command line reads.

The examples in this folder import it; copy it into your project as it is or read your own
configuration instead.

=====================  ===================================================================
``TIM_OA_SDKAPPID``    the app's SDKAppID (required)
``TIM_OA_SECRET_KEY``  the app's SDKSecretKey: the session signs its own UserSigs (preferred)
``TIM_OA_USERSIG``     or a ready UserSig for the admin account (it cannot be renewed)
``TIM_OA_IDENTIFIER``  the App admin account (default ``administrator``)
``TIM_OA_REGION``      the app's region (``singapore``, ``china``, ...; preferred), or
``TIM_OA_BASE_URL``    where to send requests instead (the emulator, a proxy)
=====================  ===================================================================

To try an example without a Tencent app, serve the emulator and point the examples at it::

    export TIM_OA_SDKAPPID=1400000000 TIM_OA_SECRET_KEY=any-test-key
    tim-oa emulator serve --port 8080 &      # uses TIM_OA_SECRET_KEY as the app's key
    export TIM_OA_BASE_URL=http://127.0.0.1:8080
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypeVar

import tim_oa

S = TypeVar("S", tim_oa.Session, tim_oa.SyncSession)


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def session_from_env(environ: Mapping[str, str] | None = None, **options: Any) -> tim_oa.Session:
    """A session for the app the environment describes; ``options`` go to ``Session``."""
    return _from_env(tim_oa.Session, environ, options)


def sync_session_from_env(
    environ: Mapping[str, str] | None = None, **options: Any
) -> tim_oa.SyncSession:
    """The same for blocking code (a Django sync view, a Celery task): a ``SyncSession``."""
    return _from_env(tim_oa.SyncSession, environ, options)


def _from_env(cls: type[S], environ: Mapping[str, str] | None, options: dict[str, Any]) -> S:
    env = os.environ if environ is None else environ

    def setting(name: str) -> str:
        return env.get(name, "").strip()

    try:
        sdkappid = int(setting("TIM_OA_SDKAPPID"))
    except ValueError:
        raise ConfigError("set TIM_OA_SDKAPPID to the app's SDKAppID (a number)") from None
    usersig: str | tim_oa.UserSigSigner
    if setting("TIM_OA_SECRET_KEY"):
        usersig = tim_oa.UserSigSigner(sdkappid, setting("TIM_OA_SECRET_KEY"))
    elif setting("TIM_OA_USERSIG"):
        usersig = setting("TIM_OA_USERSIG")
    else:
        raise ConfigError("set TIM_OA_SECRET_KEY (or TIM_OA_USERSIG)")
    region: tim_oa.Region | None = None
    if setting("TIM_OA_REGION"):
        try:
            region = tim_oa.Region.from_name(setting("TIM_OA_REGION"))
        except ValueError as exc:
            raise ConfigError(f"TIM_OA_REGION: {exc}") from None
    elif not setting("TIM_OA_BASE_URL"):
        raise ConfigError("set TIM_OA_REGION (or TIM_OA_BASE_URL)")
    return cls(
        sdkappid,
        setting("TIM_OA_IDENTIFIER") or "administrator",
        usersig,
        region,
        base_url=None if region else setting("TIM_OA_BASE_URL"),
        **options,
    )
