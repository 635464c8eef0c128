"""Credentials and target for the command line: flags, environment variables, a config file.

Where each setting comes from, first match wins (the order cloud CLIs use):

1. flags: ``--profile`` and ``--config`` choose the profile and the file;
2. environment variables ``TIM_OA_*``;
3. the chosen profile of the config file, then the file's top-level keys;
4. built-in defaults (identifier ``administrator``).

The config file is ``--config PATH``, else ``$TIM_OA_CONFIG``, else the default path
(``$XDG_CONFIG_HOME/tim-oa/config.toml``, i.e. ``~/.config/tim-oa/config.toml``; on Windows
``tim-oa/config.toml`` under ``%APPDATA%``), which may be missing. It is TOML (on Python 3.10
through the ``tomli`` package the ``cli`` extra installs), or JSON when its name ends in
``.json``. Its top-level keys apply to every profile; each table (``[staging]``) is a profile of
its own. The profile is ``--profile NAME``, else ``$TIM_OA_PROFILE``, else ``default``; a
profile named explicitly must exist.

The settings form four groups: the app id, the admin identifier, the credential (secret key or
UserSig) and the target (region or base URL). Each group comes whole from one source: a region
from one place and a base URL from another would be ambiguous. A file holding a secret that other
users may read draws a warning, and so does any file other users may write. Secrets are never
part of a message or a ``repr``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tim_oa

from ._exitcodes import InputError

_parse_toml: Callable[[str], dict[str, Any]] | None
if sys.version_info >= (3, 11):
    import tomllib

    _parse_toml = tomllib.loads
else:  # pragma: no cover - depends on the Python running the tests
    try:
        import tomli
    except ImportError:
        _parse_toml = None
    else:
        _parse_toml = tomli.loads

HAVE_TOML: Final = _parse_toml is not None
"""Whether TOML config files can be read (Python 3.11+, or tomli on 3.10)."""


ENV: Final = {
    "sdkappid": "TIM_OA_SDKAPPID",
    "identifier": "TIM_OA_IDENTIFIER",
    "secret_key": "TIM_OA_SECRET_KEY",
    "usersig": "TIM_OA_USERSIG",
    "region": "TIM_OA_REGION",
    "base_url": "TIM_OA_BASE_URL",
}
"""Config key -> environment variable."""

CONFIG_ENV: Final = "TIM_OA_CONFIG"
PROFILE_ENV: Final = "TIM_OA_PROFILE"
DEFAULT_PROFILE: Final = "default"

GROUPS: Final = (("sdkappid",), ("identifier",), ("secret_key", "usersig"), ("region", "base_url"))
"""Keys taken together from one source."""

SECRET_KEYS: Final = ("secret_key", "usersig")

DEFAULT_IDENTIFIER: Final = "administrator"

ENV_HELP: Final = (
    "Credentials: TIM_OA_SDKAPPID; TIM_OA_SECRET_KEY, or a ready TIM_OA_USERSIG; "
    f"TIM_OA_IDENTIFIER (default {DEFAULT_IDENTIFIER}); TIM_OA_REGION (one of "
    f"{', '.join(r.name.lower() for r in tim_oa.Region)}) or TIM_OA_BASE_URL. The same keys, "
    "in lower case without TIM_OA_, can live in a config file (default "
    "~/.config/tim-oa/config.toml, or $TIM_OA_CONFIG, or --config), at its top level or in a "
    "[profile] table chosen with --profile or TIM_OA_PROFILE (default: default). Precedence: "
    "flags, then the environment, then the file's profile, then its top level, then defaults."
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
            "(or the same keys in lower case, without TIM_OA_, in the config file)"
        )


def default_config_path(environ: Mapping[str, str]) -> Path:
    """Where the config file is looked for when neither --config nor TIM_OA_CONFIG is given."""
    if os.name == "nt" and environ.get("APPDATA"):  # pragma: no cover - Windows only
        return Path(environ["APPDATA"]) / "tim-oa" / "config.toml"
    base = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: unset, empty or relative means the default
        home = environ.get("HOME") or str(Path.home())
        base = os.path.join(home, ".config")
    return Path(base) / "tim-oa" / "config.toml"


def load_settings(
    config: Path | None,
    environ: Mapping[str, str] | None = None,
    *,
    profile: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """Read settings from the environment and the config file; raise :class:`InputError`.

    Args:
        config: The file named by ``--config`` (else ``TIM_OA_CONFIG``, else the default path,
            which may be missing).
        environ: The environment (default ``os.environ``).
        profile: The profile named by ``--profile`` (else ``TIM_OA_PROFILE``, else ``default``).
        warn: Receives warnings for people (a file others can write, a file with a secret
            others can read, an explicitly chosen profile overridden by the environment).
    """
    environ = os.environ if environ is None else environ
    warn = warn or (lambda message: None)
    from_env: dict[str, tuple[Any, str]] = {}
    for key, var in ENV.items():
        value = environ.get(var, "").strip()
        if value:
            from_env[key] = (value, var)

    explicit_path = config is not None or bool(environ.get(CONFIG_ENV, "").strip())
    path = config if config is not None else Path(environ.get(CONFIG_ENV, "").strip())
    if not explicit_path:
        path = default_config_path(environ)
    chosen = profile or environ.get(PROFILE_ENV, "").strip() or None
    name = chosen or DEFAULT_PROFILE

    shared: dict[str, tuple[Any, str]] = {}
    own: dict[str, tuple[Any, str]] = {}
    if explicit_path or path.is_file():
        data = _read_config(path)
        _check_private(path, warn, secret=any(k in SECRET_KEYS for k in _all_keys(data)))
        profiles = {k: v for k, v in data.items() if isinstance(v, dict)}
        for key, value in data.items():
            if not isinstance(value, dict) and value not in (None, ""):
                shared[key] = (value, f"{key} in {path}")
        if name in profiles:
            for key, value in profiles[name].items():
                if value not in (None, ""):
                    own[key] = (value, f"{key} of profile {name!r} in {path}")
        elif chosen is not None:
            known = ", ".join(sorted(profiles)) or "none"
            raise InputError(f"no profile {name!r} in {path} (profiles: {known})")
    elif chosen is not None:
        raise InputError(
            f"profile {name!r} asked for, but there is no config file at {path} "
            f"(give one with --config or {CONFIG_ENV})"
        )

    from_env, own, shared = _check(from_env), _check(own), _check(shared)
    raw: dict[str, tuple[Any, str]] = {}
    for group in GROUPS:
        for source in (from_env, own, shared):
            if any(k in source for k in group):
                raw.update({k: source[k] for k in group if k in source})
                if source is from_env and chosen is not None and any(k in own for k in group):
                    names = ", ".join(ENV[k] for k in group if k in from_env)
                    warn(f"note: {names} from the environment overrides profile {name!r}")
                break
    return _build(raw)


def _all_keys(data: Mapping[str, Any]) -> list[str]:
    keys = [k for k, v in data.items() if not isinstance(v, dict)]
    for value in data.values():
        if isinstance(value, dict):
            keys.extend(value)
    return keys


def _check_private(path: Path, warn: Callable[[str], None], *, secret: bool) -> None:
    """Warn when others may write the file, or, when it holds a secret, read it.

    A file others can write is a risk even without a secret in it: pointing ``base_url`` at
    their own host collects the UserSigs the CLI sends.
    """
    if os.name == "nt":  # pragma: no cover - POSIX permissions only
        return
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o022:
        warn(
            f"warning: {path} can be changed by other users (mode {mode:04o}), who could point "
            f"base_url at their own host and collect UserSigs; restrict it with: "
            f"chmod 600 {path}"
        )
    if secret and mode & 0o044:
        warn(
            f"warning: {path} holds a secret and other users can read it (mode {mode:04o}); "
            f"restrict it with: chmod 600 {path}"
        )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise InputError(f"cannot read config file {path}: {_os_reason(exc)}") from None
    use_json = path.suffix.lower() == ".json"
    parse: Callable[[str], Any] | None = json.loads if use_json else _parse_toml
    if parse is None:
        raise InputError(
            f"config file {path} is TOML, which needs the tomli package on Python 3.10: "
            'pip install "tim-oa[cli]" (or use a .json file)'
        )
    try:
        data = parse(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError; neither quotes the text
        kind = "JSON" if use_json else "TOML"
        raise InputError(f"config file {path} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"config file {path} must hold a table/object of settings")
    # Top-level tables are profiles; everything else, there or in a profile, must be a setting.
    tables = [("", {k: v for k, v in data.items() if not isinstance(v, dict)})]
    tables += [(f" (profile {k!r})", v) for k, v in data.items() if isinstance(v, dict)]
    for where, table in tables:
        unknown = sorted(set(table) - set(ENV))
        if unknown:
            raise InputError(
                f"config file {path}{where} has unknown key(s) {', '.join(unknown)}; "
                f"known keys: {', '.join(ENV)}"
            )
    return data


def _os_reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


def _check(source: Mapping[str, tuple[Any, str]]) -> dict[str, tuple[Any, str]]:
    """Each value of one source converted and checked, so a typo is reported even if overridden.

    ``source`` maps key -> (value, where it came from); so does the result.
    """
    checked: dict[str, tuple[Any, str]] = {}
    for key, (value, where) in source.items():
        if key == "sdkappid":
            value = _positive_int(value, where)
        elif key == "region":
            value = _region(value, where)
        else:
            if not isinstance(value, str):
                raise InputError(f"{where} must be a string")
            value = value.strip()
            if key == "base_url" and not value.startswith(("http://", "https://")):
                raise InputError(f"{where} must start with http:// or https://")
        checked[key] = (value, where)
    return checked


def _build(raw: Mapping[str, tuple[Any, str]]) -> Settings:
    """The settings from checked values (see :func:`_check`)."""
    if "region" in raw and "base_url" in raw:
        raise InputError(
            f"both a region ({raw['region'][1]}) and a base URL ({raw['base_url'][1]}) are set; "
            "keep one"
        )
    return Settings(**{key: value for key, (value, _) in raw.items()})


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
