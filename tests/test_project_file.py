"""tracework.toml as ``init`` writes it: whatever a person names things, the next command can
read it back unchanged."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import tracework
from tracework.core.project import Category, render_config


def test_a_name_with_a_del_character_round_trips(tmp_path: Path) -> None:
    name = 'Mouse\x7f parts "v2" \\ \n\tü 🐭'
    project = tracework.init(tmp_path / "p", name=name, categories=[Category("Body", "#1f77b4")],
                             requester="A.\x00Researcher")
    project.close()
    reopened = tracework.open_project(tmp_path / "p")
    try:
        assert reopened.name == name
        assert reopened.config["value_chain"]["requester"] == "A.\x00Researcher"
        assert [c.name for c in reopened.categories] == ["Body"]
    finally:
        reopened.close()


@settings(max_examples=150, deadline=None)
@given(name=st.text(max_size=40), requester=st.text(max_size=20),
       uses=st.lists(st.text(max_size=10), max_size=3),
       floor=st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_any_text_writes_a_file_that_reads_back(name: str, requester: str, uses: list[str],
                                                floor: float) -> None:
    text = render_config(name, [Category("Body", "#1f77b4", description=name)],
                         requester=requester, intended_uses=uses, wage_floor=floor,
                         demographics={"gender": name or "Q2"})
    config = tomllib.loads(text)
    assert config["project"]["name"] == name
    assert config["value_chain"]["requester"] == requester
    assert config["value_chain"]["intended_uses"] == uses
    assert config["pay"]["wage_floor_per_hour"] == floor
    assert config["taxonomy"]["categories"][0]["description"] == name
    assert config["export"]["demographics"]["gender"] == (name or "Q2")
