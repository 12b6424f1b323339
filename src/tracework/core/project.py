"""A tracework project: a folder with ``tracework.toml``, a secret and a store.

``tracework.toml`` is edited by people: the value chain behind the dataset, the taxonomy, the
concern types of fieldnotes, the pay policy, consent mapping and settings. The secret that keys
pseudonyms lives in ``tracework.secret`` (mode 0600) and never in the database, so a copy of the
database alone cannot be linked back to platform ids.
"""

from __future__ import annotations

import getpass
import os
import re
import secrets
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from sqlalchemy import Connection

from tracework.core import integrity, ledger, taxonomy
from tracework.core.errors import ConfigError, ProjectNotFound
from tracework.core.files import PRIVATE_MODE, keep_private
from tracework.core.settings import Settings, resolve
from tracework.core.store import Store, sqlite_url
from tracework.core.taxonomy import Category, parse_categories

__all__ = [
    "CONFIG_FILE",
    "DB_FILE",
    "SECRET_FILE",
    "DEFAULT_CONCERNS",
    "Category",
    "Project",
    "init",
    "open_project",
]

CONFIG_FILE = "tracework.toml"
DB_FILE = "tracework.db"
SECRET_FILE = "tracework.secret"

DEFAULT_CONCERNS: dict[str, str] = {
    "ambiguous_guideline": "#f6b26b",
    "harmful_content": "#e06666",
    "data_quality": "#ffd966",
    "privacy": "#8e7cc3",
    "taxonomy": "#6fa8dc",
    "other": "#b7b7b7",
}



@dataclass
class Project:
    root: Path
    config: dict[str, Any]
    settings: Settings
    store: Store
    secret: bytes = field(repr=False)
    _pinned: tuple[Connection, list[Category]] | None = field(default=None, repr=False,
                                                             compare=False)

    @property
    def name(self) -> str:
        return str(self.config.get("project", {}).get("name", self.root.name))

    @property
    def actor(self) -> str:
        return self.settings["actor"] or _login_name()

    @property
    def categories(self) -> list[Category]:
        """The categories in force, from the versioned taxonomy in the store (with an edit of
        tracework.toml not yet recorded applied). Inside a write transaction that called
        :meth:`taxonomy_version`, the categories that transaction sees."""
        pinned = self._pinned
        if pinned is not None and not pinned[0].closed and pinned[0].in_transaction():
            return list(pinned[1])
        self._pinned = None
        with self.store.read() as conn:
            return taxonomy.in_force(self, conn).active()

    def consent_config(self) -> dict[str, Any]:
        return dict(self.config.get("consent", {}))

    def taxonomy_version(self, conn: Connection, log: ledger.LedgerWriter | None = None) -> int:
        """The version in force, recording an edit of tracework.toml as a new version first."""
        number = taxonomy.sync_toml(self, conn, log)
        current = taxonomy.current(conn)
        self._pinned = (conn, current.active() if current is not None else [])
        return number

    def close(self) -> None:
        self.store.dispose()


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _toml_str(value: str) -> str:
    # tomlkit writes every value (control characters such as DEL included) as TOML allows; the
    # file around the values is a template because its comments are what people read.
    return tomlkit.item(value).as_string()


def _toml_list(values: Sequence[str]) -> str:
    return tomlkit.item(list(values)).as_string()


def render_config(name: str, categories: Sequence[Category], *, requester: str = "",
                  affiliation: str = "", end_client: str = "", purpose: str = "",
                  intended_uses: Sequence[str] = (), intermediaries: Sequence[str] = (),
                  guideline_version: str = "1", currency: str = "USD",
                  wage_floor: float = 0.0, floor_source: str = "", floor_date: str = "",
                  consent_column_scopes: Sequence[str] = ("link", "publish"),
                  credit_name_column: str = "",
                  free_text_questions: Sequence[str] | None = None,
                  publish_free_text: bool = False,
                  demographics: Mapping[str, str] | None = None,
                  search_time_question: str = "",
                  survey_attributes: Mapping[str, str] | None = None) -> str:
    cats = "\n".join(
        f"[[taxonomy.categories]]\nname = {_toml_str(c.name)}\ncolour = {_toml_str(c.colour)}\n"
        f"description = {_toml_str(c.description)}\n" for c in categories)
    if not cats:
        cats = ("# Add one table per category, e.g.\n# [[taxonomy.categories]]\n"
                "# name = \"Body\"\n# colour = \"#1f77b4\"\n# description = \"\"\n")
    concerns = "\n".join(f"{k} = {_toml_str(v)}" for k, v in DEFAULT_CONCERNS.items())
    export = _export_section(free_text_questions, publish_free_text, demographics)
    survey = _survey_section(search_time_question, survey_attributes)
    return f"""# tracework project file. People edit this; tracework versions the taxonomy in the store.

[project]
name = {_toml_str(name)}
description = ""
license = "CC-BY-4.0"

# Who stands behind the dataset: disclosed in exports, datasheets and the worker portal.
[value_chain]
requester = {_toml_str(requester)}
affiliation = {_toml_str(affiliation)}
end_client = {_toml_str(end_client)}
intermediaries = {_toml_list(intermediaries)}
purpose = {_toml_str(purpose)}
intended_uses = {_toml_list(intended_uses)}
guideline_version = {_toml_str(guideline_version)}

[pay]
currency = {_toml_str(currency)}
# Effective hourly pay is measured against this floor (0: no floor set).
wage_floor_per_hour = {tomlkit.item(float(wage_floor)).as_string()}
floor_source = {_toml_str(floor_source)}
floor_date = {_toml_str(floor_date)}

[taxonomy]
{cats}
# Concern types of fieldnotes and their colours.
[concerns]
{concerns}

[consent]
# Answers of the --consent-column that count as yes.
yes_values = ["Yes", "yes", "True", "true", "1", "Y", "y"]
# What a yes grants: link (join answers to work, use in audits), publish (answers leave the
# project with the dataset), credit (be credited by name).
scopes = {_toml_list(consent_column_scopes)}
# A survey column holding the name a worker wants to be credited by; a name grants credit.
credit_name_column = {_toml_str(credit_name_column)}
# Finer scopes, one yes/no column each (used with or without --consent-column), e.g.
# [consent.columns]
# Q11 = ["link"]
# Q13 = ["publish"]

{export}
{survey}
# Settings (see `tracework settings`): command line > TRACEWORK_* environment > here > default.
[settings]
"""


_EXPORT_HELP = """\
# What of the survey leaves the project. Free text (a city, what a work set cost) identifies
# people: the import finds it (text-entry ImportIds such as QID4_TEXT, answers shaped like free
# text; see `tracework log --action survey.free_text`), free_text_questions adds more, and
# "other, please say" texts and the credit-name column always count. It leaves per worker only
# where publish_free_text names the question (["Q4"]; true: all) AND the worker consented to
# publication, is never counted in aggregates, and a credit name never leaves with answers.
# [export.demographics] names the questions that the datasheet, card and Croissant describe
# (per worker with consent; as suppressed counts)."""


def _export_section(free_text: Sequence[str] | None, publish: bool,
                    demographics: Mapping[str, str] | None) -> str:
    if free_text is None and not demographics:
        return (_EXPORT_HELP + "\n# [export]\n# free_text_questions = [\"Q4\", \"Q10\"]\n"
                "# publish_free_text = false\n# [export.demographics]\n# gender = \"Q2\"\n")
    lines = [_EXPORT_HELP, "[export]", f"free_text_questions = {_toml_list(free_text or ())}",
             f"publish_free_text = {'true' if publish else 'false'}"]
    if demographics:
        lines.append("[export.demographics]")
        lines += [f"{k} = {_toml_str(v)}" for k, v in demographics.items()]
    return "\n".join(lines) + "\n"


_SURVEY_HELP = """\
# The survey in the audits: the question where workers said how long they search for tasks
# (counted as unpaid time in `tracework audit labour`), and names for the questions that group
# audits and the report compare workers by (`tracework audit groups --by education`)."""


def _survey_section(search_time_question: str, attributes: Mapping[str, str] | None) -> str:
    if not search_time_question and not attributes:
        return (_SURVEY_HELP + "\n# [survey]\n# search_time_question = \"Q5\"\n"
                "# [survey.attributes]\n# education = \"Q3\"\n")
    lines = [_SURVEY_HELP, "[survey]"]
    if search_time_question:
        lines.append(f"search_time_question = {_toml_str(search_time_question)}")
    if attributes:
        lines.append("[survey.attributes]")
        lines += [f"{k} = {_toml_str(v)}" for k, v in attributes.items()]
    return "\n".join(lines) + "\n"


def init(directory: Path | str, *, name: str | None = None,
         categories: Sequence[Category] = (), database_url: str | None = None,
         actor: str | None = None, **config: Any) -> Project:
    """Create a project folder: tracework.toml, a 0600 secret and a migrated store."""
    root = Path(directory)
    if (root / CONFIG_FILE).exists():
        raise ConfigError(f"{root / CONFIG_FILE} already exists",
                          hint="Use that project, or choose another folder.")
    root.mkdir(parents=True, exist_ok=True)
    text = render_config(name or root.resolve().name, categories, **config)
    (root / CONFIG_FILE).write_text(text, encoding="utf-8")
    secret_path = root / SECRET_FILE
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    # tracework.signing: the key that signs workers' records (core/signing.py), made on use.
    (root / ".gitignore").write_text(f"{SECRET_FILE}\n{DB_FILE}*\ntracework.signing\n",
                                     encoding="utf-8")
    project = open_project(root, cli={"database_url": database_url, "actor": actor})
    project.store.migrate()
    with project.store.write() as conn:
        project.taxonomy_version(conn)
    return project


def load_config(root: Path) -> dict[str, Any]:
    path = root / CONFIG_FILE
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ProjectNotFound(f"no tracework project in {root} ({CONFIG_FILE} not found)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}", hint="Fix the TOML syntax at that line.") from None


def read_secret(root: Path) -> bytes:
    path = root / SECRET_FILE
    keep_private(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing: pseudonyms cannot be computed without it",
                          hint="Restore it from your backup; a new secret would give every "
                               "worker a new pseudonym.") from None
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ConfigError(f"{path} does not hold a 64-hex-digit secret")
    return bytes.fromhex(text)


def open_project(directory: Path | str = ".", *, cli: Mapping[str, Any] | None = None,
                 migrate: bool = False) -> Project:
    """Open an existing project. ``cli`` holds settings given on the command line."""
    root = Path(directory)
    config = load_config(root)
    file_settings = config.get("settings", {})
    if not isinstance(file_settings, dict):
        raise ConfigError("tracework.toml: [settings] must be a table")
    settings = resolve(cli=cli, file=file_settings)
    parse_categories(config)
    url = settings["database_url"] or sqlite_url(root / DB_FILE)
    store = Store(url)
    project = Project(root=root, config=config, settings=settings, store=store,
                      secret=read_secret(root))
    integrity.attach(store, project.secret)
    if migrate or not store.is_initialised():
        store.migrate()
        with store.write() as conn:
            project.taxonomy_version(conn)
    return project
