"""Named connection profiles and every persisted setting key: Qt-free, and never a secret.

Why it is built this way:

* One beamline workstation often talks to several RE Managers (ID12, a test server, a sister
  beamline). A named profile holds one server's addresses, identity and a colour, so the window
  can say loudly which beamline it is driving (``ui/profiles_dialog.apply_profile_style``).
* Settings go through ``AppSettings`` over an injected ``MutableMapping`` store: a plain dict in
  tests, a QSettings adapter in the app (``ui/profiles_dialog.QSettingsStore``). Keys are listed
  once in ``Keys``, so there is one place to see what the app writes to disk.
* Secrets never reach the store. The lock key lives in memory only (``ui/lock_panel``); a CURVE
  *secret* key belongs in a key file, not in settings. Every write checks the key name against
  ``FORBIDDEN_KEY`` and raises ``SettingsError``; a profile refuses secret-looking fields instead
  of dropping them silently, so a caller bug is loud; ``purge_secrets`` removes such keys left by
  a hand edit or an older version. Only the server's *public* key is a profile field.
* Values are stored as JSON strings where QSettings would mangle types (lists of one element come
  back as a string, bools as "true"), so a dict store and the INI file behave the same.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, MutableMapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..client.transport import validate_curve_key

__all__ = [
    "DEFAULT_COLOUR", "FORBIDDEN_KEY", "AppSettings", "Keys", "Profile", "SettingsError",
    "contrast_text", "is_forbidden_key", "resolve_connection",
]

logger = logging.getLogger(__name__)

#: setting keys or profile fields that would hold a secret: refused on every write
FORBIDDEN_KEY = re.compile(
    r"lock[\W_]*key|api[\W_]*key(?![\W_]*file)|private|secret|passw(or)?d|token", re.IGNORECASE)
DEFAULT_COLOUR = "#1565c0"
_ADDRESS = re.compile(r"^(tcp|ipc|inproc)://\S+$")
_HTTP_URI = re.compile(r"^https?://\S+$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NAME_MAX = 32


class SettingsError(ValueError):
    """A setting or profile value that must not be saved (a secret, or invalid input)."""


class Keys:
    """Every key qs-gui writes. Window geometry/state values are opaque Qt byte arrays."""

    PROFILES = "connection/profiles"  # JSON list of Profile dicts
    LAST_PROFILE = "connection/last_profile"
    WINDOW_GEOMETRY = "window/geometry"
    WINDOW_STATE = "window/state"
    CONSOLE_MAX_LINES = "console/max_lines"
    NOTIFY_SOUND = "notifications/sound"
    THEME = "view/theme"  # "system", "light" or "dark"


def is_forbidden_key(name: str) -> bool:
    """True for names like ``lock_key``, ``lockKey``, ``private_key``, ``secret``."""
    return bool(FORBIDDEN_KEY.search(name))


def contrast_text(colour: str) -> str:
    """Black or white, whichever reads better on ``colour`` (#rrggbb), by relative luminance."""
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    return "#000000" if luminance > 0.179 else "#ffffff"


@dataclass(frozen=True)
class Profile:
    """One RE Manager the operator connects to. Empty addresses mean "the default/env value"."""

    name: str
    control_addr: str = ""
    info_addr: str = ""
    public_key: str = ""  # the SERVER's CURVE public key (z85, 40 characters); never a secret
    user: str = ""  # empty: the login name
    user_group: str = "primary"
    colour: str = DEFAULT_COLOUR
    monitor: bool = False
    #: bluesky-httpserver: with a URI the profile connects over HTTP, not 0MQ
    http_uri: str = ""
    http_login: str = ""  # log in as this user (the password is asked, never stored)
    http_provider: str = ""  # authentication provider for the login, e.g. ldap or toy
    http_api_key_file: str = ""  # or: read the API key from this file (the path, not the key)

    def __post_init__(self) -> None:
        name = self.name.strip() if isinstance(self.name, str) else ""
        if not name:
            raise SettingsError("A profile needs a name (e.g. the beamline, ID12).")
        if len(name) > _NAME_MAX or any(not ch.isprintable() for ch in name):
            raise SettingsError(f"Profile names are up to {_NAME_MAX} printable characters.")
        object.__setattr__(self, "name", name)
        for label, value in (("Control address", self.control_addr),
                             ("Info address", self.info_addr)):
            if not isinstance(value, str) or (value and not _ADDRESS.match(value)):
                raise SettingsError(f"{label} must look like tcp://host:port, got {value!r}.")
        if not isinstance(self.public_key, str):
            raise SettingsError("The public key must be text.")
        if self.public_key:
            try:
                validate_curve_key(self.public_key)
            except ValueError as ex:
                raise SettingsError(f"Server public key: {ex}") from None
        for label, value in (("User", self.user), ("User group", self.user_group)):
            if not isinstance(value, str) or len(value) > 64:
                raise SettingsError(f"{label} must be text of at most 64 characters.")
        if not self.user_group:
            raise SettingsError("User group must not be empty (the server default is primary).")
        if not isinstance(self.colour, str) or not _COLOUR.match(self.colour):
            raise SettingsError(f"Colour must be #rrggbb, got {self.colour!r}.")
        if not isinstance(self.monitor, bool):
            raise SettingsError("Monitor must be true or false.")
        if not isinstance(self.http_uri, str) or (self.http_uri and
                                                  not _HTTP_URI.match(self.http_uri)):
            raise SettingsError(f"HTTP server must look like https://host:port, got "
                                f"{self.http_uri!r}.")
        for label, value in (("Login", self.http_login), ("Provider", self.http_provider),
                             ("API key file", self.http_api_key_file)):
            if not isinstance(value, str) or len(value) > 256:
                raise SettingsError(f"{label} must be text of at most 256 characters.")
        if self.http_login and self.http_api_key_file:
            raise SettingsError("Use either a login or an API key file, not both.")

    @classmethod
    def from_dict(cls, data: Any) -> Profile:
        """Build from stored/pasted data; secret-looking fields raise, unknown ones are ignored
        (settings written by a newer qs-gui must not stop this one from starting)."""
        if not isinstance(data, dict):
            raise SettingsError(f"A profile must be a mapping, got {type(data).__name__}.")
        secrets = sorted(k for k in data if isinstance(k, str) and is_forbidden_key(k))
        if secrets:
            raise SettingsError(f"Profiles never hold secrets; refused field(s): "
                                f"{', '.join(secrets)}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            logger.info("Ignoring unknown profile fields: %s", ", ".join(unknown))
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_connection(profile: Profile | None, *, control_addr: str | None = None,
                       info_addr: str | None = None, public_key: str | None = None,
                       user: str | None = None, user_group: str | None = None,
                       monitor: bool = False, http_uri: str | None = None,
                       http_login: str | None = None, http_provider: str | None = None,
                       http_api_key_file: str | None = None) -> dict[str, Any]:
    """Connection options: explicit (command-line) values win over the profile's.

    ``None`` means "not given": then the profile's value, then ``None`` again so that the client
    falls back to the QSERVER_* environment variables and its defaults. A profile's monitor flag
    can only add read-only mode, never remove it: a wall display stays read-only.
    """
    p = profile
    return {
        "control_addr": control_addr or (p.control_addr if p else "") or None,
        "info_addr": info_addr or (p.info_addr if p else "") or None,
        "public_key": public_key or (p.public_key if p else "") or None,
        "user": user or (p.user if p else "") or None,
        "user_group": user_group or (p.user_group if p else "") or "primary",
        "monitor": bool(monitor or (p.monitor if p else False)),
        "http_uri": http_uri or (p.http_uri if p else "") or None,
        "http_login": http_login or (p.http_login if p else "") or None,
        "http_provider": http_provider or (p.http_provider if p else "") or None,
        "http_api_key_file": http_api_key_file or (p.http_api_key_file if p else "") or None,
    }


class AppSettings:
    """Typed access to the settings store; refuses every secret-looking key."""

    def __init__(self, store: MutableMapping[str, Any]):
        self.store = store

    # -- raw access (everything goes through here) -------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self.store[key]
        except KeyError:
            return default

    def set(self, key: str, value: Any) -> None:
        """Write one value; ``SettingsError`` for a key that names a secret."""
        if is_forbidden_key(key):
            raise SettingsError(f"Refusing to save {key!r}: secrets (lock keys, private keys) "
                                f"are kept in memory only.")
        self.store[key] = value

    def remove(self, key: str) -> None:
        try:
            del self.store[key]
        except KeyError:
            pass

    def _get_json(self, key: str, default: Any) -> Any:
        raw = self.get(key)
        if raw is None:
            return default
        try:
            return json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        except ValueError:
            logger.warning("Setting %s is not valid JSON; using the default", key)
            return default

    # -- audit ------------------------------------------------------------------------------
    def audit(self, secrets: Iterable[str] = ()) -> list[str]:
        """Keys that are secret-named or whose value contains one of ``secrets`` (empty: clean).

        Values are compared as text, including the JSON of profiles and the repr of byte arrays.
        """
        needles = [s for s in secrets if s]
        found = []
        for key in list(self.store):
            if is_forbidden_key(key):
                found.append(key)
                continue
            value = self.store[key]
            text = value if isinstance(value, str) else repr(value)
            if any(n in text for n in needles):
                found.append(key)
        return found

    def purge_secrets(self) -> list[str]:
        """Delete secret-named keys (a hand edit, an older version); returns what was removed."""
        removed = [k for k in list(self.store) if is_forbidden_key(k)]
        for key in removed:
            self.remove(key)
        if removed:
            logger.warning("Removed secret-looking settings: %s", ", ".join(removed))
        return removed

    # -- profiles ---------------------------------------------------------------------------
    def profiles(self) -> list[Profile]:
        """Stored profiles in their saved order; damaged entries are skipped with a warning."""
        data = self._get_json(Keys.PROFILES, [])
        out: list[Profile] = []
        for entry in data if isinstance(data, list) else []:
            try:
                out.append(Profile.from_dict(entry))
            except (SettingsError, TypeError) as ex:
                logger.warning("Skipping a stored profile: %s", ex)
        return out

    def profile(self, name: str) -> Profile | None:
        key = name.strip().casefold()
        return next((p for p in self.profiles() if p.name.casefold() == key), None)

    def profile_names(self) -> list[str]:
        return [p.name for p in self.profiles()]

    def _write_profiles(self, profiles: list[Profile]) -> None:
        self.set(Keys.PROFILES, json.dumps([p.to_dict() for p in profiles]))

    def add_profile(self, profile: Profile) -> None:
        """Add a new profile; ``SettingsError`` if the name (ignoring case) is taken."""
        existing = self.profile(profile.name)
        if existing is not None:
            raise SettingsError(f"A profile named {existing.name!r} already exists.")
        self.save_profile(profile)

    def save_profile(self, profile: Profile, *, previous_name: str | None = None) -> None:
        """Add or update ``profile``; ``previous_name`` renames an existing one in place.

        Names are unique ignoring case, so "ID12" and "id12" cannot both exist.
        """
        if not isinstance(profile, Profile):
            raise SettingsError("save_profile takes a Profile (build it with Profile.from_dict)")
        profiles = self.profiles()
        old = (previous_name or profile.name).casefold()
        clash = [p for p in profiles if p.name.casefold() == profile.name.casefold()
                 and p.name.casefold() != old]
        if clash:
            raise SettingsError(f"A profile named {clash[0].name!r} already exists.")
        index = next((i for i, p in enumerate(profiles) if p.name.casefold() == old), None)
        if index is None:
            profiles.append(profile)
        else:
            profiles[index] = profile
        self._write_profiles(profiles)
        last = self.last_profile
        if previous_name and last and last.casefold() == previous_name.casefold():
            self.set_last_profile(profile.name)

    def delete_profile(self, name: str) -> bool:
        profiles = self.profiles()
        kept = [p for p in profiles if p.name.casefold() != name.casefold()]
        if len(kept) == len(profiles):
            return False
        self._write_profiles(kept)
        if (self.last_profile or "").casefold() == name.casefold():
            self.remove(Keys.LAST_PROFILE)
        return True

    @property
    def last_profile(self) -> str | None:
        value = self.get(Keys.LAST_PROFILE)
        return value if isinstance(value, str) and value else None

    def set_last_profile(self, name: str | None) -> None:
        if name:
            self.set(Keys.LAST_PROFILE, name)
        else:
            self.remove(Keys.LAST_PROFILE)

    # -- window and view state --------------------------------------------------------------
    THEMES = ("system", "light", "dark")

    @property
    def theme(self) -> str:
        """The saved colour theme; "system" when unset or not one of THEMES."""
        value = self.get(Keys.THEME)
        return value if value in self.THEMES else "system"

    def set_theme(self, theme: str) -> None:
        self.set(Keys.THEME, theme if theme in self.THEMES else "system")

    def window_layout(self) -> tuple[Any, Any]:
        """(geometry, dock/toolbar state) as saved by Qt, or None for either."""
        return self.get(Keys.WINDOW_GEOMETRY), self.get(Keys.WINDOW_STATE)

    def set_window_layout(self, geometry: Any, state: Any) -> None:
        self.set(Keys.WINDOW_GEOMETRY, geometry)
        self.set(Keys.WINDOW_STATE, state)

    def console_max_lines(self, default: int, low: int = 100, high: int = 1_000_000) -> int:
        """The saved console buffer size when it is an int within [low, high], else default."""
        try:
            value = int(self.get(Keys.CONSOLE_MAX_LINES, default))
        except (TypeError, ValueError):
            return default
        return value if low <= value <= high else default

    def set_console_max_lines(self, n: int) -> None:
        self.set(Keys.CONSOLE_MAX_LINES, int(n))

    def notify_sound(self) -> bool:
        value = self.get(Keys.NOTIFY_SOUND, False)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)

    def set_notify_sound(self, on: bool) -> None:
        self.set(Keys.NOTIFY_SOUND, bool(on))
