"""Settings from the environment and config files; no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tim_oa
from tim_oa.cli._config import HAVE_TOML, Settings, default_config_path, load_settings
from tim_oa.cli._exitcodes import InputError

KEY = "config-test-secret-0123456789abcdef"

needs_toml = pytest.mark.skipif(not HAVE_TOML, reason="tomllib needs Python 3.11+")


def write_config(tmp_path: Path, settings: dict[str, object]) -> Path:
    """A config file in the format this Python reads: TOML on 3.11+, else JSON."""
    if not HAVE_TOML:
        path = tmp_path / "tim.json"
        path.write_text(json.dumps(settings))
        return path
    path = tmp_path / "tim.toml"
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    return path


def test_environment_gives_every_setting() -> None:
    settings = load_settings(
        None,
        {
            "TIM_OA_SDKAPPID": "1400000001",
            "TIM_OA_IDENTIFIER": "ops",
            "TIM_OA_SECRET_KEY": KEY,
            "TIM_OA_REGION": "Singapore",
        },
    )
    assert settings.sdkappid == 1400000001
    assert settings.identifier == "ops"
    assert settings.region is tim_oa.Region.SINGAPORE
    assert settings.base_url is None


def test_identifier_defaults_to_administrator() -> None:
    assert load_settings(None, {}).identifier == "administrator"


@pytest.mark.parametrize("name", ["silicon_valley", "SILICON-VALLEY", " Silicon Valley "])
def test_region_names_are_case_insensitive(name: str) -> None:
    assert load_settings(None, {"TIM_OA_REGION": name}).region is tim_oa.Region.SILICON_VALLEY


def test_unknown_region_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="TIM_OA_REGION must be one of: china, singapore"):
        load_settings(None, {"TIM_OA_REGION": "mars"})


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_sdkappid_must_be_a_positive_integer(value: str) -> None:
    with pytest.raises(InputError, match="TIM_OA_SDKAPPID must be a positive integer"):
        load_settings(None, {"TIM_OA_SDKAPPID": value})


def test_region_and_base_url_together_are_ambiguous() -> None:
    with pytest.raises(InputError, match="keep one"):
        load_settings(None, {"TIM_OA_REGION": "tokyo", "TIM_OA_BASE_URL": "http://x"})


def test_base_url_needs_a_scheme() -> None:
    with pytest.raises(InputError, match="http:// or https://"):
        load_settings(None, {"TIM_OA_BASE_URL": "127.0.0.1:8080"})


def test_environment_wins_per_group_and_the_file_fills_the_rest(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {"sdkappid": 1400000002, "base_url": "http://127.0.0.1:9", "identifier": "from-file"},
    )
    settings = load_settings(
        config,
        {
            "TIM_OA_SDKAPPID": "1400000001",
            "TIM_OA_REGION": "china",  # same group as base_url: the environment's choice wins whole
            "TIM_OA_SECRET_KEY": KEY,  # the file has no credential
        },
    )
    assert settings.sdkappid == 1400000001
    assert settings.region is tim_oa.Region.CHINA
    assert settings.base_url is None
    assert settings.secret_key == KEY
    assert settings.identifier == "from-file"


def test_json_config_file(tmp_path: Path) -> None:
    config = tmp_path / "tim.json"
    config.write_text(json.dumps({"sdkappid": 7, "usersig": "sig", "region": "jakarta"}))
    settings = load_settings(config, {})
    assert (settings.sdkappid, settings.usersig, settings.region) == (
        7,
        "sig",
        tim_oa.Region.JAKARTA,
    )


@needs_toml
def test_toml_errors_do_not_quote_the_file(tmp_path: Path) -> None:
    config = tmp_path / "tim.toml"
    config.write_text(f'secret_key = "{KEY}"\nsdkappid = = 3\n')
    with pytest.raises(InputError, match="not valid TOML") as caught:
        load_settings(config, {})
    assert KEY not in str(caught.value)


def test_json_errors_do_not_quote_the_file(tmp_path: Path) -> None:
    config = tmp_path / "tim.json"
    config.write_text(f'{{"secret_key": "{KEY}", "sdkappid": }}')
    with pytest.raises(InputError, match="not valid JSON") as caught:
        load_settings(config, {})
    assert KEY not in str(caught.value)


def test_unknown_config_keys_are_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"sdkapp_id": 3})
    with pytest.raises(InputError, match="unknown key"):
        load_settings(config, {})


def test_unreadable_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml", {})


def test_missing_credentials_name_every_variable() -> None:
    with pytest.raises(InputError) as caught:
        Settings().session()
    message = str(caught.value)
    for var in ("TIM_OA_SDKAPPID", "TIM_OA_SECRET_KEY", "TIM_OA_USERSIG", "TIM_OA_REGION"):
        assert var in message


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings(sdkappid=1, secret_key=KEY, usersig="usersig-value")
    assert KEY not in repr(settings)
    assert "usersig-value" not in repr(settings)


def test_secret_key_is_preferred_over_a_fixed_usersig() -> None:
    settings = Settings(sdkappid=1, secret_key=KEY, usersig="fixed", base_url="http://x")
    session = settings.session()
    assert isinstance(session._usersig, tim_oa.UserSigSigner)


# Default path, profiles, precedence, permissions.


def config_home(tmp_path: Path, text: str, mode: int = 0o600) -> dict[str, str]:
    """An XDG config home holding tim-oa/config.toml (or .json without TOML); its environment."""
    folder = tmp_path / "xdg" / "tim-oa"
    folder.mkdir(parents=True)
    path = folder / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


PROFILES = """
sdkappid = 1400000010
identifier = "ops"

[default]
region = "singapore"

[staging]
sdkappid = 1400000020
base_url = "http://127.0.0.1:9"
"""


def test_default_path_honours_xdg_config_home_then_home(tmp_path: Path) -> None:
    xdg = str(tmp_path / "xdg")
    assert default_config_path({"XDG_CONFIG_HOME": xdg}) == Path(xdg, "tim-oa", "config.toml")
    home = {"HOME": str(tmp_path)}
    expected = tmp_path / ".config" / "tim-oa" / "config.toml"
    assert default_config_path(home) == expected
    assert default_config_path({**home, "XDG_CONFIG_HOME": "relative/dir"}) == expected


@needs_toml
def test_the_default_file_and_its_default_profile_are_read(tmp_path: Path) -> None:
    settings = load_settings(None, config_home(tmp_path, PROFILES))
    assert settings.sdkappid == 1400000010  # top level
    assert settings.identifier == "ops"
    assert settings.region is tim_oa.Region.SINGAPORE  # [default]


@needs_toml
def test_a_profile_is_chosen_by_flag_then_environment(tmp_path: Path) -> None:
    env = config_home(tmp_path, PROFILES)
    staging = load_settings(None, {**env, "TIM_OA_PROFILE": "staging"})
    assert (staging.sdkappid, staging.base_url, staging.region) == (
        1400000020,
        "http://127.0.0.1:9",
        None,
    )
    assert staging.identifier == "ops"  # from the top level
    flag = load_settings(None, {**env, "TIM_OA_PROFILE": "staging"}, profile="default")
    assert flag.sdkappid == 1400000010


@needs_toml
def test_environment_beats_profile_beats_top_level(tmp_path: Path) -> None:
    env = config_home(tmp_path, PROFILES)
    notes: list[str] = []
    settings = load_settings(
        None,
        {**env, "TIM_OA_SDKAPPID": "1400000099", "TIM_OA_REGION": "tokyo"},
        profile="staging",
        warn=notes.append,
    )
    assert settings.sdkappid == 1400000099
    assert settings.region is tim_oa.Region.TOKYO
    assert settings.base_url is None  # the target group came whole from the environment
    # An explicitly chosen profile overridden by the environment says so (names, no values).
    assert any("TIM_OA_SDKAPPID" in n and "'staging'" in n for n in notes)
    assert not any("1400000099" in n for n in notes)


@needs_toml
def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    env = config_home(tmp_path, PROFILES)
    with pytest.raises(InputError, match=r"no profile 'prod' .*profiles: default, staging"):
        load_settings(None, env, profile="prod")


def test_a_named_profile_needs_a_config_file(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "empty")}
    assert load_settings(None, env).sdkappid is None  # a missing default file is fine
    with pytest.raises(InputError, match="no config file"):
        load_settings(None, {**env, "TIM_OA_PROFILE": "staging"})


def test_tim_oa_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.json"
    path.write_text(json.dumps({"sdkappid": 5, "ci": {"region": "mumbai"}}))
    settings = load_settings(None, {"TIM_OA_CONFIG": str(path), "TIM_OA_PROFILE": "ci"})
    assert (settings.sdkappid, settings.region) == (5, tim_oa.Region.MUMBAI)
    with pytest.raises(InputError, match="cannot read config file"):
        load_settings(None, {"TIM_OA_CONFIG": str(tmp_path / "missing.toml")})


def test_unknown_keys_in_a_profile_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"staging": {"sdk_app_id": 3}}))
    with pytest.raises(InputError, match=r"profile 'staging'.*unknown key"):
        load_settings(path, {})


@pytest.mark.parametrize(
    ("mode", "secret", "warned"),
    [(0o644, True, True), (0o640, True, True), (0o600, True, False), (0o644, False, False)],
)
def test_a_readable_file_holding_a_secret_draws_a_warning(
    tmp_path: Path, mode: int, secret: bool, warned: bool
) -> None:
    path = tmp_path / "c.json"
    profile = {"secret_key": KEY} if secret else {"region": "china"}
    path.write_text(json.dumps({"sdkappid": 3, "default": profile}))
    path.chmod(mode)
    notes: list[str] = []
    load_settings(path, {}, warn=notes.append)
    assert bool([n for n in notes if "chmod 600" in n]) == warned
    assert not any(KEY in n for n in notes)


def test_toml_is_read_on_every_supported_python() -> None:
    # Python 3.10 reads TOML through tomli, which the cli extra installs there.
    assert HAVE_TOML
