"""Profiles and AppSettings over a plain dict store (no Qt): validation, persistence, no secrets."""

from __future__ import annotations

import json
import secrets

import pytest
import zmq

from qs_gui.core.profiles import (
    AppSettings,
    Keys,
    Profile,
    SettingsError,
    contrast_text,
    is_forbidden_key,
    resolve_connection,
)

PUBLIC, SECRET = (k.decode() for k in zmq.curve_keypair())


@pytest.fixture
def store() -> dict:
    return {}


@pytest.fixture
def settings(store: dict) -> AppSettings:
    return AppSettings(store)


def id12(**changes) -> Profile:
    data = {"name": "ID12", "control_addr": "tcp://id12-ws:60615",
            "info_addr": "tcp://id12-ws:60625", "public_key": PUBLIC, "user": "op",
            "user_group": "primary", "colour": "#c62828", "monitor": False}
    data.update(changes)
    return Profile(**data)


# -- Profile validation ---------------------------------------------------------------------
def test_profile_round_trip_and_name_is_trimmed() -> None:
    profile = id12(name="  ID12 ")
    assert profile.name == "ID12"
    assert Profile.from_dict(profile.to_dict()) == profile


@pytest.mark.parametrize(("changes", "words"), [
    ({"name": ""}, "needs a name"),
    ({"name": "x" * 33}, "up to 32"),
    ({"name": "ID\n12"}, "printable"),
    ({"control_addr": "id12-ws:60615"}, "tcp://host:port"),
    ({"info_addr": "http://x"}, "tcp://host:port"),
    ({"public_key": "short"}, "public key"),
    ({"user_group": ""}, "must not be empty"),
    ({"colour": "red"}, "#rrggbb"),
    ({"monitor": "yes"}, "true or false"),
])
def test_invalid_profiles_say_why(changes: dict, words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        id12(**changes)


@pytest.mark.parametrize("field", ["lock_key", "lockKey", "LOCK-KEY", "private_key",
                                   "secret_key", "password"])
def test_profile_refuses_secret_fields(field: str) -> None:
    data = id12().to_dict() | {field: "hunter2"}
    with pytest.raises(SettingsError, match="never hold secrets"):
        Profile.from_dict(data)


def test_profile_ignores_unknown_fields_from_a_newer_version() -> None:
    data = id12().to_dict() | {"dark_mode": True}
    assert Profile.from_dict(data) == id12()


def test_empty_addresses_and_key_mean_defaults() -> None:
    profile = Profile(name="local")
    assert (profile.control_addr, profile.public_key, profile.user_group) == ("", "", "primary")


# -- AppSettings: profiles ------------------------------------------------------------------
def test_save_list_update_delete(settings: AppSettings) -> None:
    settings.add_profile(id12())
    settings.add_profile(Profile(name="test-server", control_addr="tcp://127.0.0.1:60615"))
    assert settings.profile_names() == ["ID12", "test-server"]
    settings.save_profile(id12(user="someone"))  # update in place keeps the order
    assert settings.profile("id12").user == "someone"
    assert settings.profile_names() == ["ID12", "test-server"]
    assert settings.delete_profile("ID12") is True
    assert settings.delete_profile("ID12") is False
    assert settings.profile_names() == ["test-server"]


def test_names_are_unique_ignoring_case(settings: AppSettings) -> None:
    settings.save_profile(id12())
    settings.save_profile(Profile(name="ID13"))
    with pytest.raises(SettingsError, match="already exists"):
        settings.add_profile(Profile(name="id12"))
    with pytest.raises(SettingsError, match="already exists"):
        settings.save_profile(Profile(name="id12"), previous_name="ID13")


def test_rename_keeps_position_and_last_used(settings: AppSettings) -> None:
    settings.save_profile(id12())
    settings.save_profile(Profile(name="B"))
    settings.set_last_profile("ID12")
    settings.save_profile(id12(name="ID12-old"), previous_name="ID12")
    assert settings.profile_names() == ["ID12-old", "B"]
    assert settings.last_profile == "ID12-old"
    settings.delete_profile("id12-old")
    assert settings.last_profile is None


def test_damaged_store_never_stops_the_app(store: dict, settings: AppSettings) -> None:
    store[Keys.PROFILES] = "{not json"
    assert settings.profiles() == []
    store[Keys.PROFILES] = json.dumps([{"name": "ok"}, {"name": ""}, "junk",
                                       {"name": "bad", "colour": 5}])
    assert settings.profile_names() == ["ok"]


# -- AppSettings: no secrets, ever ----------------------------------------------------------
@pytest.mark.parametrize("key", ["lock_key", "lock/key", "connection/lockKey",
                                 "zmq/private_key", "curve/secret"])
def test_secret_keys_are_refused(settings: AppSettings, store: dict, key: str) -> None:
    with pytest.raises(SettingsError, match="in memory only"):
        settings.set(key, "abc")
    assert store == {}


def test_lock_panel_flow_leaves_no_key_in_the_store(settings: AppSettings, store: dict) -> None:
    """The operator generates a lock key, locks, uses profiles and closes the window: every write
    the app makes goes through AppSettings, and none of them may contain the key."""
    lock_key = secrets.token_urlsafe(12)  # what the lock panel's Generate makes
    settings.save_profile(id12())
    settings.set_last_profile("ID12")
    settings.set_window_layout(b"\x01geometry", b"\x02state")
    settings.set_console_max_lines(5000)
    settings.set_notify_sound(True)
    # A careless caller tries to remember the key with the profile or on its own:
    with pytest.raises(SettingsError):
        Profile.from_dict(id12().to_dict() | {"lock_key": lock_key})
    with pytest.raises(SettingsError):
        settings.set("connection/lock_key", lock_key)
    assert settings.audit([lock_key]) == []
    assert not any(is_forbidden_key(k) for k in store)
    assert lock_key not in repr(store)


def test_audit_finds_a_secret_by_value_and_purge_removes_secret_keys(store: dict,
                                                                    settings: AppSettings) -> None:
    store["lock_key"] = "abc"  # an older version or a hand edit
    store["misc/note"] = "the key is s3cr3t-value"
    assert sorted(settings.audit(["s3cr3t-value"])) == ["lock_key", "misc/note"]
    assert settings.purge_secrets() == ["lock_key"]
    assert "lock_key" not in store and "misc/note" in store


def test_public_key_is_the_only_key_a_profile_keeps(settings: AppSettings, store: dict) -> None:
    settings.save_profile(id12())
    text = store[Keys.PROFILES]
    assert PUBLIC in text and SECRET not in text


# -- AppSettings: layout and preferences ----------------------------------------------------
def test_layout_and_preferences(settings: AppSettings, store: dict) -> None:
    assert settings.window_layout() == (None, None)
    settings.set_window_layout(b"g", b"s")
    assert settings.window_layout() == (b"g", b"s")
    assert settings.console_max_lines(10_000) == 10_000
    settings.set_console_max_lines(2000)
    assert settings.console_max_lines(10_000) == 2000
    store[Keys.CONSOLE_MAX_LINES] = "50"  # below the console's minimum
    assert settings.console_max_lines(10_000) == 10_000
    store[Keys.CONSOLE_MAX_LINES] = "3000"  # QSettings returns text from the INI file
    assert settings.console_max_lines(10_000) == 3000
    assert settings.notify_sound() is False
    store[Keys.NOTIFY_SOUND] = "true"
    assert settings.notify_sound() is True
    settings.set_notify_sound(False)
    assert settings.notify_sound() is False


# -- resolving the connection ---------------------------------------------------------------
def test_command_line_wins_over_profile_and_monitor_only_adds() -> None:
    profile = id12(monitor=True)
    got = resolve_connection(profile, control_addr="tcp://other:1", user_group=None)
    assert got == {"control_addr": "tcp://other:1", "info_addr": "tcp://id12-ws:60625",
                   "public_key": PUBLIC, "user": "op", "user_group": "primary",
                   "monitor": True, "http_uri": None, "http_login": None,
                   "http_provider": None, "http_api_key_file": None}
    assert resolve_connection(id12(), monitor=True)["monitor"] is True


def test_http_profile_fields_never_hold_a_secret() -> None:
    profile = Profile(name="ID12", http_uri="https://gw.example/tla", http_login="jdoe",
                      http_provider="ldap")
    assert Profile.from_dict(profile.to_dict()) == profile
    got = resolve_connection(profile, http_login="other")
    assert (got["http_uri"], got["http_login"], got["http_provider"]) == (
        "https://gw.example/tla", "other", "ldap")
    with pytest.raises(SettingsError, match="HTTP server"):
        Profile(name="x", http_uri="gw.example")
    with pytest.raises(SettingsError, match="either a login or an API key file"):
        Profile(name="x", http_login="jdoe", http_api_key_file="/k")
    for field_name in ("api_key", "http_api_key", "apiKey", "http_password", "refresh_token"):
        with pytest.raises(SettingsError, match="never hold secrets"):
            Profile.from_dict({"name": "x", field_name: "s3cret"})


def test_without_profile_unset_values_stay_none_for_env_defaults() -> None:
    assert resolve_connection(None) == {"control_addr": None, "info_addr": None,
                                        "public_key": None, "user": None,
                                        "user_group": "primary", "monitor": False,
                                        "http_uri": None, "http_login": None,
                                        "http_provider": None, "http_api_key_file": None}


@pytest.mark.parametrize(("colour", "text"), [("#ffffff", "#000000"), ("#000000", "#ffffff"),
                                              ("#c62828", "#ffffff"), ("#f0a000", "#000000"),
                                              ("#1565c0", "#ffffff")])
def test_contrast_text(colour: str, text: str) -> None:
    assert contrast_text(colour) == text
