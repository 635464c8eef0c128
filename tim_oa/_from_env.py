"""``Session.from_env``: a session's settings read the way the ``tim-oa`` command line reads them.

The reading itself is the command line's (``tim_oa.cli._config``: environment variables
``TIM_OA_*``, then the profile of the config file named by ``TIM_OA_CONFIG``/``TIM_OA_PROFILE``,
then its top level), so a program and the CLI given the same environment reach the same app. That
module needs neither click nor rich; importing it loads neither. Its errors become
:class:`ValidationError` here; they name the variable, never a secret's value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from ._errors import ValidationError

logger = logging.getLogger("tim_oa")

_TARGET_KEYS = ("region", "base_url")
_VARIABLE = re.compile(r"TIM_OA_[A-Z_]+")


def session_options(
    overrides: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    profile: str | None = None,
    config: str | PathLike[str] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``Session(...)`` from the settings, ``overrides`` winning.

    An override of ``region`` or ``base_url`` replaces both settings (they are one choice); an
    override of ``usersig`` makes the secret key unneeded. Raises :class:`ValidationError`
    naming the variables to set.
    """
    from .cli._config import ENV, load_settings
    from .cli._exitcodes import InputError

    try:
        settings = load_settings(
            None if config is None else Path(config),
            environ,
            profile=profile,
            warn=logger.warning,
        )
    except InputError as exc:
        message = str(exc)
        named = _VARIABLE.search(message)
        raise ValidationError(message, field=named.group() if named else "config") from None

    options = dict(overrides)
    missing: list[str] = []
    if "sdkappid" not in options:
        if settings.sdkappid is None:
            missing.append(ENV["sdkappid"])
        else:
            options["sdkappid"] = settings.sdkappid
    options.setdefault("identifier", settings.identifier)
    secret_key = None
    if "usersig" not in options:
        if settings.secret_key:
            secret_key = settings.secret_key
        elif settings.usersig:
            options["usersig"] = settings.usersig
        else:
            missing.append(f"{ENV['secret_key']} (or {ENV['usersig']})")
    if not any(key in options for key in _TARGET_KEYS):
        if settings.region is not None:
            options["region"] = settings.region
        elif settings.base_url is not None:
            options["base_url"] = settings.base_url
        else:
            missing.append(f"{ENV['region']} (or {ENV['base_url']})")
    if missing:
        raise ValidationError(
            f"Session.from_env: set {', '.join(missing)} in the environment (or the same keys "
            "in lower case, without TIM_OA_, in the config file), or pass the argument",
            field=missing[0].split()[0],
        )
    if secret_key is not None:
        from ._usersig import UserSigSigner

        options["usersig"] = UserSigSigner(options["sdkappid"], secret_key)
    return options
