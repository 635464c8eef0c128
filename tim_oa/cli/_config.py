"""Credentials and target for the command line: environment variables and an optional config file.

Values come from ``--config PATH`` (TOML, or JSON where ``tomllib`` is missing or the file ends in
``.json``) and from ``TIM_OA_*`` environment variables. The settings form four groups: the app id,
the admin identifier, the credential (secret key or UserSig) and the target (region or base URL).
For each group the file, named explicitly, wins over the environment; the environment fills the
groups the file leaves out, so a secret can stay out of the file. The two sources are never mixed
within a group: a region from one and a base URL from the other would be ambiguous. Secrets are
never part of a message or a ``repr``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tim_oa

from ._exitcodes import InputError

if sys.version_info >= (3, 11):
    import tomllib

    HAVE_TOML = True

    def _parse_toml(text: str) -> Any:
        return tomllib.loads(text)

else:  # pragma: no cover - Python 3.10 has no tomllib: config files are JSON there
    HAVE_TOML = False

    def _parse_toml(text: str) -> Any:
        raise AssertionError("no TOML parser")


ENV: Final = {
    "sdkappid": "TIM_OA_SDKAPPID",
    "identifier": "TIM_OA_IDENTIFIER",
    "secret_key": "TIM_OA_SECRET_KEY",
    "usersig": "TIM_OA_USERSIG",
    "region": "TIM_OA_REGION",
    "base_url": "TIM_OA_BASE_URL",
}
"""Config key -> environment variable."""

GROUPS: Final = (("sdkappid",), ("identifier",), ("secret_key", "usersig"), ("region", "base_url"))
"""Keys taken together from one source."""

DEFAULT_IDENTIFIER: Final = "administrator"

ENV_HELP: Final = (
    "Credentials come from the environment (or --config FILE with the same keys in lower case, "
    "without the TIM_OA_ prefix): TIM_OA_SDKAPPID; TIM_OA_SECRET_KEY, or a ready TIM_OA_USERSIG; "
    f"TIM_OA_IDENTIFIER (default {DEFAULT_IDENTIFIER}); TIM_OA_REGION (one of "
    f"{', '.join(r.name.lower() for r in tim_oa.Region)}) or TIM_OA_BASE_URL."
)


@dataclass(frozen=True, repr=False)
class Settings:
    """What the command line knows about the app and where to reach it.

    Every field may be missing until a command needs it; :meth:`signer` and :meth:`session` then
    explain which environment variable to set.
    """

    sdkappid: int | None = None
    identifier: str = DEFAULT_IDENTIFIER
    secret_key: str | None = None
    usersig: str | None = None
    region: tim_oa.Region | None = None
    base_url: str | None = None

    def __repr__(self) -> str:
        shown = "<hidden>" if self.secret_key else None
        sig = "<hidden>" if self.usersig else None
        return (
            f"Settings(sdkappid={self.sdkappid}, identifier={self.identifier!r}, "
            f"secret_key={shown}, usersig={sig}, region={self.region}, base_url={self.base_url!r})"
        )

    def secrets(self) -> list[str]:
        """The secret values, so output can be scrubbed of them."""
        return [s for s in (self.secret_key, self.usersig) if s]

    def signer(self) -> tim_oa.UserSigSigner:
        """A signer for the app's secret key (``usersig`` generation)."""
        missing = []
        if self.sdkappid is None:
            missing.append(ENV["sdkappid"])
        if not self.secret_key:
            missing.append(ENV["secret_key"])
        _require(missing, "to generate a UserSig")
        assert self.sdkappid is not None and self.secret_key is not None
        return tim_oa.UserSigSigner(self.sdkappid, self.secret_key)

    def session(self, **options: Any) -> tim_oa.Session:
        """A :class:`tim_oa.Session` for these settings; ``options`` go to the constructor.

        A secret key is preferred over a fixed UserSig when both are set: a signer renews its
        signatures, a fixed one expires.
        """
        missing = []
        if self.sdkappid is None:
            missing.append(ENV["sdkappid"])
        if not self.secret_key and not self.usersig:
            missing.append(f"{ENV['secret_key']} (or {ENV['usersig']})")
        if self.region is None and self.base_url is None:
            missing.append(f"{ENV['region']} (or {ENV['base_url']})")
        _require(missing, "to call the API")
        assert self.sdkappid is not None
        sdkappid = self.sdkappid
        usersig: str | tim_oa.UserSigSigner
        if self.secret_key:
            usersig = tim_oa.UserSigSigner(sdkappid, self.secret_key)
        else:
            assert self.usersig is not None
            usersig = self.usersig
        return tim_oa.Session(
            sdkappid=sdkappid,
            identifier=self.identifier,
            usersig=usersig,
            region=self.region,
            base_url=self.base_url if self.region is None else None,
            **options,
        )


def _require(missing: list[str], purpose: str) -> None:
    if missing:
        raise InputError(
            f"missing credentials {purpose}: set {', '.join(missing)} in the environment "
            "(or the same keys in lower case, without TIM_OA_, in --config)"
        )


def load_settings(config: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``config`` (if given) and the environment; raise :class:`InputError`."""
    environ = os.environ if environ is None else environ
    from_env: dict[str, tuple[Any, str]] = {}
    for key, var in ENV.items():
        value = environ.get(var, "").strip()
        if value:
            from_env[key] = (value, var)
    from_file: dict[str, tuple[Any, str]] = {}
    if config is not None:
        for key, value in _read_config(config).items():
            from_file[key] = (value, f"{key} in {config}")
    raw: dict[str, tuple[Any, str]] = {}
    for group in GROUPS:
        source = from_file if any(k in from_file for k in group) else from_env
        raw.update({k: source[k] for k in group if k in source})
    return _build(raw)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise InputError(f"cannot read config file {path}: {_os_reason(exc)}") from None
    use_json = not HAVE_TOML or path.suffix.lower() == ".json"
    try:
        data = json.loads(text) if use_json else _parse_toml(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError; neither quotes the text
        kind = "JSON" if use_json else "TOML"
        hint = " (TOML needs Python 3.11+; use JSON here)" if not HAVE_TOML else ""
        raise InputError(f"config file {path} is not valid {kind}{hint}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"config file {path} must hold a table/object of settings")
    unknown = sorted(set(data) - set(ENV))
    if unknown:
        raise InputError(
            f"config file {path} has unknown key(s) {', '.join(unknown)}; "
            f"known keys: {', '.join(ENV)}"
        )
    return {k: v for k, v in data.items() if v not in (None, "")}


def _os_reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


def _build(raw: Mapping[str, tuple[Any, str]]) -> Settings:
    """Check each value's type and form; ``raw`` maps key -> (value, where it came from)."""
    values: dict[str, Any] = {}
    if "sdkappid" in raw:
        value, where = raw["sdkappid"]
        values["sdkappid"] = _positive_int(value, where)
    for key in ("identifier", "secret_key", "usersig", "base_url"):
        if key in raw:
            value, where = raw[key]
            if not isinstance(value, str):
                raise InputError(f"{where} must be a string")
            values[key] = value.strip()
    if "region" in raw:
        value, where = raw["region"]
        values["region"] = _region(value, where)
    if "region" in values and "base_url" in values:
        raise InputError(
            f"both a region ({raw['region'][1]}) and a base URL ({raw['base_url'][1]}) are set; "
            "keep one"
        )
    base_url = values.get("base_url")
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise InputError(f"{raw['base_url'][1]} must start with http:// or https://")
    return Settings(**values)


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{where} must be a positive integer (the app's SDKAppID)")
    return value


def _region(value: Any, where: str) -> tim_oa.Region:
    names = {r.name.lower(): r for r in tim_oa.Region}
    text = value if isinstance(value, str) else ""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in names:
        raise InputError(f"{where} must be one of: {', '.join(names)}")
    return names[key]
