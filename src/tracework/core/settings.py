"""Settings: one declarative table drives the command line's help, the docs and validation.

Precedence is fixed: command line > environment (``TRACEWORK_<NAME>``) > the ``[settings]``
table of ``tracework.toml`` > the default. Every resolved value remembers which source set it,
so exports can write down exactly how they were made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tracework.core.errors import ConfigError

__all__ = ["Setting", "SETTINGS", "Settings", "Source", "resolve", "setting"]

Source = Literal["cli", "env", "file", "default"]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: type = str
    choices: tuple[str, ...] = ()

    @property
    def env(self) -> str:
        return f"TRACEWORK_{self.name.upper()}"

    def parse(self, raw: Any, source: str) -> Any:
        """Convert a value from the environment, the file or the command line to ``kind``."""
        try:
            if self.kind is bool:
                if isinstance(raw, bool):
                    value: Any = raw
                elif str(raw).strip().lower() in ("1", "true", "yes", "on"):
                    value = True
                elif str(raw).strip().lower() in ("0", "false", "no", "off", ""):
                    value = False
                else:
                    raise ValueError(raw)
            elif self.kind is int:
                if isinstance(raw, bool):
                    raise ValueError(raw)
                value = int(raw)
            elif self.kind is float:
                value = float(raw)
            else:
                value = str(raw)
        except (TypeError, ValueError):
            raise ConfigError(
                f"setting {self.name} from {source}: {raw!r} is not a valid {self.kind.__name__}"
            ) from None
        if self.choices and value not in self.choices:
            raise ConfigError(
                f"setting {self.name} from {source}: {value!r} is not one of {', '.join(self.choices)}"
            )
        return value


MIB = 1024 * 1024

SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", "",
            "Database URL. Empty: the project's SQLite file tracework.db. For a team server: "
            "postgresql://user@host:5432/dbname."),
    Setting("actor", "",
            "Name recorded as the actor of every change made from here (default: the login name)."),
    Setting("max_field_bytes", 16 * MIB,
            "Largest CSV cell accepted, in bytes (a mask's base64 PNG lives in one cell).", int),
    Setting("max_mask_pixels", 50_000_000,
            "Largest mask accepted, in pixels; a PNG declaring more is refused before decoding "
            "(decompression bombs).", int),
    Setting("max_pixels", 50_000_000,
            "Largest image a file may declare (an answer's inputImageProperties, a polygon "
            "to rasterise), in pixels; larger is refused as an input error.", int),
    Setting("max_columns", 20_000,
            "Most columns an imported CSV header may have; wider files are refused before any "
            "work per column.", int),
    Setting("mask_background", "transparent",
            "What counts as background in a label mask: 'transparent' (alpha 0) or an opaque "
            "colour such as #ffffff."),
    Setting("mask_tolerance", 0.0,
            "Share of a mask's pixels (0 to 1) whose colour is in no label mapping that may be "
            "counted as background, e.g. anti-aliased edges; they are counted and reported. "
            "0 (default) refuses any unknown colour.", float),
    Setting("processes", 0,
            "Processes used to decode masks; 0 means one per core.", int),
    Setting("scheduler", "",
            "A dask.distributed scheduler (tcp://HOST:8786) that decodes masks at ingest and "
            "runs the group audits' permutation tests; empty runs them on this machine. Also "
            "read from tracework.toml [compute] scheduler.", str),
    Setting("public_url", "",
            "Where users reach the web app, e.g. https://review.example.org behind an https "
            "reverse proxy. Used for the Origin check of every form, for Secure cookies (when "
            "https) and for the links `tracework portal link` prints. Also read from "
            "tracework.toml [web] public_url. Empty: the address the app is asked on."),
    Setting("min_cell", 5,
            "Smallest group size published in aggregates (k of small-cell suppression).", int),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown setting {name!r}") from None


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]
    sources: Mapping[str, Source]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def manifest(self) -> dict[str, dict[str, Any]]:
        """Each setting with its value and the source that set it, for export manifests."""
        shown = {}
        for name, value in self.values.items():
            if name == "database_url" and value:
                value = _redact_url(value)
            shown[name] = {"value": value, "source": self.sources[name]}
        return shown


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable>"


def resolve(
    cli: Mapping[str, Any] | None = None,
    file: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting by the fixed precedence. ``None`` on the command line means unset."""
    cli = cli or {}
    file = file or {}
    env = os.environ if env is None else env
    for name in file:
        if name not in _BY_NAME:
            raise ConfigError(f"tracework.toml [settings]: unknown setting {name!r}",
                              hint="`tracework settings` lists them.")
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for s in SETTINGS:
        if cli.get(s.name) is not None:
            values[s.name], sources[s.name] = s.parse(cli[s.name], "the command line"), "cli"
        elif s.env in env:
            values[s.name], sources[s.name] = s.parse(env[s.env], s.env), "env"
        elif s.name in file:
            values[s.name], sources[s.name] = s.parse(file[s.name], "tracework.toml"), "file"
        else:
            values[s.name], sources[s.name] = s.default, "default"
    return Settings(values, sources)
