"""The report's Jinja environment reads ``a.b`` of a dict by key at once: every lookup gives
what Jinja's own environment gives (attributes of dict first, subclasses, missing names)."""

from __future__ import annotations

from collections import OrderedDict, defaultdict

import jinja2
import pytest

from league_pipeline.outputs.report import _Environment

TEMPLATE = (
    "{{ d.code }}|{{ d.items is callable }}|{{ d.get('code') }}|{{ d.keys()|list|length }}|"
    "{{ d.missing is defined }}|{{ d.copy is callable }}|{{ o.code }}|{{ o.items is callable }}|"
    "{{ n.code is defined }}|{{ s.upper() }}"
)


@pytest.mark.parametrize("undefined", [jinja2.Undefined, jinja2.StrictUndefined])
def test_lookups_give_what_jinja_gives(undefined):
    data = {
        "d": {"code": "ZA001", "items": "a key named like a dict method", "copy": 1},
        "o": OrderedDict(code="ZA002", items=2),
        "n": defaultdict(str),
        "s": "text",
    }
    ours = _Environment(undefined=undefined).from_string(TEMPLATE).render(**data)
    jinjas = jinja2.Environment(undefined=undefined).from_string(TEMPLATE).render(**data)
    assert ours == jinjas
    assert ours.startswith("ZA001|True|ZA001|3|False|True|ZA002|True|")


def test_a_missing_key_is_undefined_as_in_jinja():
    env = _Environment(undefined=jinja2.StrictUndefined)
    with pytest.raises(jinja2.UndefinedError, match="'dict object' has no attribute 'nope'"):
        env.from_string("{{ d.nope }}").render(d={"code": "ZA001"})
