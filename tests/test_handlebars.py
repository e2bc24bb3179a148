"""vccore.handlebars against handlebars.js 4.7 (interop/js/handlebars.mjs), feature by feature, and its bounds.

The differential tests send each generated template and data to handlebars.js and require: the
same text; the same credential wherever the original's JSON.parse succeeds on clean data; and
otherwise a refusal or a credential shaped as the same template renders with safe data.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vccore import handlebars
from vccore.codes import ErrorCode
from vccore.errors import TemplateError
from vccore.handlebars import MAX_STEPS, format_time_helper

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "interop" / "js"
VECTORS = Path(__file__).resolve().parent / "vectors" / "handlebars"
REQUIRE = os.environ.get("VCCORE_REQUIRE_INTEROP") == "1"


class Harness:
    """One `node handlebars.mjs` process answering JSON Lines."""

    def __init__(self) -> None:
        node = shutil.which("node")
        assert node is not None
        self.proc = subprocess.Popen(
            [node, "handlebars.mjs"], cwd=JS_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.lines.get(timeout=30)
        assert line, "the handlebars.js harness exited"
        answer: dict[str, Any] = json.loads(line)
        assert "harnessError" not in answer, answer
        if "unavailable" in answer:
            if REQUIRE:
                pytest.fail(answer["unavailable"])
            pytest.skip(answer["unavailable"])
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def hbjs() -> Any:
    why = None if shutil.which("node") else "node is not on PATH"
    if why is None and not (JS_DIR / "node_modules" / "handlebars").is_dir():
        why = "interop/js/node_modules/handlebars is missing (npm ci in interop/js)"
    if why:
        if REQUIRE:
            pytest.fail(why)
        pytest.skip(why)
    harness = Harness()
    yield harness
    harness.close()


# ---------------------------------------------------------------- data: every kind of value, with the hostile text
CHARS = st.one_of(
    st.sampled_from(['"', "\\", "\n", "\r", "\t", "&", "<", ">", "'", "`", "=", "}}", "{{", " ", "\u2028", "\x00"]),
    st.characters(codec="utf-8"),
    st.sampled_from(["\U0001f600", "\U000e0001", "\U0010fffd", "\ud800", "\udfff", "é", "सी"]),
)
TEXT = st.lists(CHARS, max_size=8).map("".join)
NUMBERS = st.one_of(
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1e21, 1e-7]),
)
SCALARS = st.one_of(TEXT, NUMBERS, st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "0", "c"]), inner)),
    max_leaves=8,
)
KEYS = ["a", "b", "n", "xs", "o", "s"]
DATA = st.fixed_dictionaries(
    {},
    optional={
        "a": VALUES,
        "b": VALUES,
        "n": SCALARS,
        "xs": st.lists(VALUES, max_size=4),
        "o": st.dictionaries(st.sampled_from(["a", "b", "1", "10", "c d"]), VALUES, max_size=4),
        "s": TEXT,
    },
)

# ---------------------------------------------------------------- the features: templates in a JSON credential
FEATURES: dict[str, list[str]] = {
    "escaping": ['{"v": "{{a}}", "w": "{{s}}"}', "{{a}}|{{b}}|{{s}}"],
    "unescaped": ['{"v": "{{{a}}}", "w": "{{&s}}"}', "{{{a}}}|{{& b}}"],
    "paths": [
        '{"v": "{{a.b}}", "w": "{{a.[0]}}", "x": "{{xs.[1].a}}", "y": "{{o.[c d]}}", "z": "{{a/b/c}}"}',
        '{"v": "{{this.a}}", "w": "{{./s}}", "x": "{{s.length}}", "y": "{{xs.length}}", "z": "{{s.[0]}}"}',
    ],
    "several tags": ['{"v": "did:abha:{{a.b}} {{s}}-{{s}}{{n}}", "w": "{{a}}{{b}}{{missing}}"}'],
    "missing": ['{"v": "{{nothing}}", "w": "{{nothing.deeper.still}}", "x": "{{../up}}"}'],
    "printed values": ["{{a}}/{{b}}/{{xs}}/{{o}}", '{"v": "{{xs}}", "w": "{{o}}", "x": "{{n}}"}'],
    "scalars": [
        '{"n": {{n}} }',
        '{"n": {{{n}}}, "m": [{{n}}, 1]}',
        "[{{#each xs}}{{n}}{{#unless @last}},{{/unless}}{{/each}}]",
    ],
    "each": [
        '{"v": [{{#each xs}}"{{this}}"{{#unless @last}},{{/unless}}{{/each}}]}',
        '{"v": "{{#each xs}}{{@index}}:{{this}}{{#if @first}}<{{/if}}{{#if @last}}>{{/if}};{{else}}none{{/each}}"}',
        '{"v": "{{#each o}}{{@key}}={{this}}/{{@index}} {{/each}}", "w": "{{#each s}}x{{else}}y{{/each}}"}',
        '{"organs": "{{#each xs}}{{#if @index}}, {{/if}}{{this}}{{/each}}"}',
    ],
    "conditions": [
        '{"v": "{{#if a}}yes{{else if b}}b{{else}}no{{/if}}", "w": "{{#unless n}}u{{/unless}}"}',
        '{"v": "{{#if n includeZero=true}}z{{^}}nz{{/if}}", "w": "{{#with a}}{{b}}{{else}}none{{/with}}"}',
    ],
    "lookup": ['{"v": "{{lookup o s}}", "w": "{{#each xs}}{{lookup ../o @index}}{{/each}}", "x": "{{lookup xs 0}}"}'],
    "parents": [
        '{"v": "{{#each xs}}{{../s}}{{#with this}}{{../../n}}{{@root.s}}{{/with}}{{/each}}"}',
        '{"v": "{{#each xs}}{{#each this}}{{@../index}}.{{@index}}={{../../s}} {{/each}}{{/each}}"}',
    ],
    "whitespace": [
        '{\n  "v": [\n    {{#each xs}}\n    "{{this}}"{{#unless @last}},{{/unless}}\n    {{/each}}\n  ]\n}\n',
        '{"v": "{{~s~}}  x  {{~ n}} {{#if a~}} y {{~/if}}", "w": "  {{! c }}  "}',
        "  {{#if a}}\r\n  {{s}}\r\n  {{else}}\r\n  none\r\n  {{/if}}\r\n",
    ],
    "comments": ['{"v": "a{{! one }}b{{!-- two }} --}}c", "w": "{{!-- {{s}} --}}"}'],
    "raw blocks": ['{"v": "{{{{raw}}}}{{s}} {{#if}}{{{{/raw}}}}"}'],
    "block params": ['{"v": "{{#each xs as |x i|}}{{i}}={{x}};{{/each}}", "w": "{{#with a as |y|}}{{y.b}}{{/with}}"}'],
    "sections": ['{"v": "{{#a}}[{{b}}]{{/a}}", "w": "{{^xs}}empty{{/xs}}", "x": "{{#o}}{{a}}{{/o}}"}'],
    "escaped mustaches": ['{"v": "\\\\{{s}} \\\\\\\\{{s}}"}', "\\{{a}} and \\\\{{a}}"],
    "javascript +": [
        "{{{n}}}{{{n}}}",
        "{{#each xs}}{{{this}}}{{{n}}}{{/each}}",
        "x{{#a}}y{{/a}}{{{n}}}{{{n}}}{{#o}}z{{/o}}{{{n}}}{{{n}}}",
    ],
    "backslashes": ['{"v": "\\\\n{{s}}\\\\", "w": "C:\\\\dir\\\\{{s}}"}'],
}
RAW = {"unescaped", "scalars", "raw blocks", "javascript +"}  # a data '"' may end a string in the original
GLUED = {"javascript +"}  # values side by side outside strings: refused, as a number glued to a number


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return "leaf"


def numbers_as_doubles(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: numbers_as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_doubles(v) for v in value]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def safe(value: Any) -> Any:
    """The same data with every string made harmless: "0" (a JSON scalar too), or "" for ""."""
    if isinstance(value, dict):
        return {k: safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [safe(v) for v in value]
    return ("0" if value else "") if isinstance(value, str) else value


def spoil(value: Any) -> Any:
    """The same data with text that ends strings and objects in each string."""
    if isinstance(value, dict):
        return {k: spoil(v) for k, v in value.items()}
    if isinstance(value, list):
        return [spoil(v) for v in value]
    return value + '"}, "x": {"\\\n]' if isinstance(value, str) else value


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)] + list(value)
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def ours(template: str, data: Any, **options: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        compiled = handlebars.compile(template, **options)
        out["text"] = compiled.render(data)
    except (TemplateError, ValueError) as exc:  # ValueError: delimiters that are no regular expression
        out["error"] = exc
        return out
    try:
        out["json"] = compiled.render_json(data)
    except TemplateError as exc:
        out["jsonError"] = exc
    return out


def check(hbjs: Any, template: str, data: Any, *, raw: bool = False, lenient: bool = False, **options: Any) -> Any:
    """The differential rule, for one template and data.

    The text is handlebars.js's. The credential is the original's wherever its JSON.parse
    succeeds and its structure is the one the template has with safe data (and, in templates
    with ``{{{ }}}``, no data ``"`` could end a string); otherwise it is refused, or has the
    template's structure. ``lenient`` allows a refusal anyway (random templates glue values).
    """
    request: dict[str, Any] = {"template": template, "data": data}
    if "delimiters" in options:
        request["delimiters"] = list(options["delimiters"])
    js = hbjs(request)
    mine = ours(template, data, **options)
    if "text" not in js:
        assert "error" in mine, (js, mine)
        return mine
    assert mine.get("text") == js["text"], (mine, js)
    if "json" not in js and "json" not in mine:
        return mine
    intended = hbjs({**request, "data": safe(data)}).get("json", ...)
    dirty = raw and any('"' in s for s in strings(data))
    from_template = "json" in js and not dirty and (intended is ... or shape(js["json"]) == shape(intended))
    if "json" in mine:
        if from_template:
            assert numbers_as_doubles(mine["json"]) == numbers_as_doubles(js["json"])
        elif intended is not ...:
            assert shape(mine["json"]) == shape(intended), (mine, js, intended)
    elif from_template and not lenient:
        raise AssertionError(f"refused what the original renders from the template's structure: {mine['jsonError']}")
    else:
        assert mine["jsonError"].code in (ErrorCode.TEMPLATE_DATA, ErrorCode.TEMPLATE_NOT_JSON)
    return mine


@pytest.mark.parametrize("feature", sorted(FEATURES))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_feature_renders_as_handlebars_js(hbjs: Any, feature: str, data: st.DataObject) -> None:
    template = data.draw(st.sampled_from(FEATURES[feature]))
    check(hbjs, template, data.draw(DATA), raw=feature in RAW, lenient=feature in GLUED)


def test_a_scalar_slot_takes_exactly_one_json_scalar(hbjs: Any) -> None:
    template = '{"n": {{{n}}} }'
    for n, accepted in [
        (5, True),
        (-0.0, True),
        (1e21, True),
        (True, True),
        (None, False),
        ('"s"', True),
        ("[1, 2]", False),
        ('1, "x": 2', False),
        ("{}", False),
        (" 7 ", True),
        ("NaN", False),
        ("1e400", False),
    ]:
        js = hbjs({"template": template, "data": {"n": n}})
        mine = ours(template, {"n": n})
        assert mine["text"] == js["text"]
        assert ("json" in mine) == accepted, (n, mine)
        if accepted:
            assert numbers_as_doubles(mine["json"]) == numbers_as_doubles(js["json"])
        else:
            assert mine["jsonError"].code == ErrorCode.TEMPLATE_DATA and mine["jsonError"].details["field"] == "n"


# ---------------------------------------------------------------- the grammar: random templates
PIECES = st.sampled_from(
    [
        "{{a}}",
        "{{{a}}}",
        "{{&b}}",
        "{{~s}}",
        "{{s~}}",
        "{{#if a}}",
        "{{#each xs}}",
        "{{#with o}}",
        "{{/if}}",
        "{{/each}}",
        "{{/with}}",
        "{{else}}",
        "{{^}}",
        "{{~else~}}",
        "{{else if b}}",
        "{{#unless n}}",
        "{{/unless}}",
        "{{! c }}",
        "{{!-- d --}}",
        "{{this}}",
        "{{@index}}",
        "{{../s}}",
        "{{a.b}}",
        "{{lookup o s}}",
        "\\{{a}}",
        "\\\\{{a}}",
        "{{",
        "}}",
        "}",
        "{",
        "\n",
        "\r\n",
        "  ",
        "\t",
        "x",
        '"',
        "\\",
        "{{{{raw}}}}",
        "{{{{/raw}}}}",
        "{{>p}}",
        "{{*d}}",
        "{{#a}}",
        "{{/a}}",
        "{{^a}}",
        "{{a b=1}}",
        "{{(a)}}",
        "{{[a]}}",
        "{{'q'}}",
        "{{1}}",
        "{{true}}",
        "{{a.this}}",
        "{{#each xs as |x|}}{{x}}",
        "\x00",
        "{{!",
        "{{else}}{{/if}}",
        "{{~#if a~}}",
        "{{~/if~}}",
        "{{~^~}}",
        "{{else with a}}",
        "{{lookup (lookup o s) a}}",
        '{{lookup o "a\\"b"}}',
        "{{lookup xs -1}}",
        "{{@root}}",
        "{{@../index}}",
        "{{./a}}",
        "{{this.[0]}}",
        "{{[a\\]b]}}",
        "{{a.[b c].d}}",
        "{{@key}}",
        "{{log s}}",
        "{{helperMissing}}",
        "{{blockHelperMissing a}}",
        "{{#blockHelperMissing a}}",
        "{{/blockHelperMissing}}",
        "{{#if a includeZero=true}}",
        "{{#each o as |v k|}}{{k}}",
        "{{../..}}",
        "{{.}}",
        "{{#with xs.[0]}}",
        "{{{n}}}",
        "{{undefined}}",
        "{{null}}",
        "{{-1.5}}",
        "{{#xs}}",
        "{{/xs}}",
        "{{^s}}",
        "{{/s}}",
        "{{{{/raw}}}}{{{{raw}}}}",
    ]
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=st.lists(PIECES, max_size=12).map("".join), data=DATA)
def test_random_templates_render_or_fail_as_handlebars_js(hbjs: Any, template: str, data: dict[str, Any]) -> None:
    check(hbjs, template, data, raw=True, lenient=True)


# ---------------------------------------------------------------- delimiters and formatTime
@settings(max_examples=100, deadline=None)
@given(
    pair=st.sampled_from([("<%", "%>"), ("\\${", "}"), ("[[", "]]"), ("{{", "]]"), ("{{=", "}}"), ("@@", "@@")]),
    body=st.lists(
        st.sampled_from(["<%a%>", "${a}", "[[a]]", "{{a}}", "@@a@@", "<%= a %>", "<%{a}%>", " ", "x", "}"]), max_size=6
    ).map("".join),
    data=DATA,
)
def test_custom_delimiters_rewrite_as_handlebars_delimiters(
    hbjs: Any, pair: tuple[str, str], body: str, data: Any
) -> None:
    check(hbjs, body, data, raw=True, lenient=True, delimiters=pair)


DATES = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
    ),
    st.sampled_from(
        [
            "2023-05-01",
            "2023-05-01T10:20",
            "20230501T102030Z",
            "2023-05-01 10:20:30+0530",
            "2023-05-01T24:00:00",
            "2023-03-12T02:30:00",
            "2023-11-05T01:30:00",
            "2023-05-01T10:20:30,5-03:00",
            "2023-05",
            " 2023-05-01",
        ]
    ),
    st.integers(-(10**12), 4 * 10**12),
)


@settings(max_examples=150, deadline=None)
@given(
    date=DATES, zone=st.sampled_from(["Asia/Kolkata", "UTC", "America/New_York", "Europe/London", "asia/kolkata", ""])
)
def test_format_time_prints_as_moment_timezone(hbjs: Any, date: Any, zone: str) -> None:
    template = '{"issuanceDate": "{{formatTime d}}"}'
    js = hbjs({"template": template, "data": {"d": date}, "helpers": ["formatTime"], "timeZone": zone})
    rendered = handlebars.compile(template, helpers={"formatTime": format_time_helper(zone)}).render_json({"d": date})
    assert rendered == js["json"]


def test_format_time_refuses_what_moment_calls_invalid() -> None:
    template = handlebars.compile(
        '{"d": "{{formatTime d}}"}', helpers={"formatTime": format_time_helper("Asia/Kolkata")}
    )
    for bad in ["2023-02-30", "", "May 1 2023", "2023-W05-1", None, True, [2023, 1, 1]]:
        with pytest.raises(TemplateError) as caught:
            template.render_json({"d": bad})
        assert caught.value.code == ErrorCode.TEMPLATE_DATA and caught.value.details["field"] == "d"
    clock = format_time_helper("Asia/Kolkata", now=lambda: datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert (
        handlebars.compile("{{formatTime missing}}", helpers={"formatTime": clock}).render({})
        == "2024-01-02T08:34:05+05:30"
    )
    with pytest.raises(ValueError, match="unknown time zone"):
        format_time_helper("Mars/Olympus")


# ---------------------------------------------------------------- the real templates
CASES = json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['name']}-{i}" for i, c in enumerate(CASES)])
def test_real_templates_render_as_the_signer_did(case: dict[str, Any]) -> None:
    template = json.loads((VECTORS / case["template"]).read_text(encoding="utf-8"))
    assert json.dumps(template, separators=(",", ":"), ensure_ascii=False) == case["source"]  # JSON.stringify
    helpers = {"formatTime": format_time_helper(case["timeZone"])} if case["helpers"] else {}
    compiled = handlebars.compile(case["source"], helpers=helpers)
    assert compiled.render(case["data"]) == case["text"]
    assert compiled.render_json(case["data"]) == case["json"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['name']}-{i}" for i, c in enumerate(CASES)])
def test_real_templates_take_hostile_data_as_text(hbjs: Any, case: dict[str, Any]) -> None:
    hostile = spoil(case["data"])
    credential = ours(case["source"], hostile, helpers={})
    if "json" in credential:
        assert shape(credential["json"]) == shape(case["json"])
    if not case["helpers"]:
        check(hbjs, case["source"], hostile, raw=True)


# ---------------------------------------------------------------- errors and bounds
def test_syntax_errors_say_where() -> None:
    with pytest.raises(TemplateError) as caught:
        handlebars.compile('{\n  "a": "{{#if x}}"\n}')
    assert caught.value.code == ErrorCode.TEMPLATE_SYNTAX and caught.value.details["line"] == 3
    with pytest.raises(TemplateError) as caught:
        handlebars.compile('{"a": "{{#if x}}{{/each}}"}')
    assert (caught.value.details["line"], caught.value.details["column"]) == (1, 8)
    for refused in ["{{> partial}}", "{{#> layout}}x{{/layout}}", "{{* decorator}}", "{{#*inline 'p'}}x{{/inline}}"]:
        with pytest.raises(TemplateError, match="not supported"):
            handlebars.compile(refused)


def test_data_that_would_change_the_structure_is_refused_naming_its_field() -> None:
    template = handlebars.compile('{"a": {{a.b}}, "list": [{{{c}}}], "{{k}}": 1}')
    for data, field in [
        ({"a": {"b": "[1]"}}, "a.b"),
        ({"a": {"b": 1}, "c": '1], "x": [2'}, "c"),
        ({"a": {"b": 1}, "c": 2, "k": "z"}, "k"),
    ]:
        with pytest.raises(TemplateError) as caught:
            template.render_json(data)
        assert caught.value.code == ErrorCode.TEMPLATE_DATA and caught.value.details["field"] == field
    with pytest.raises(TemplateError) as caught:
        handlebars.compile('{"a": {{a}} }').render_json({})
    assert caught.value.code == ErrorCode.TEMPLATE_DATA and caught.value.details["field"] == "a"
    with pytest.raises(TemplateError) as caught:
        handlebars.compile('{"a": 1,\n "b": nope}').render_json({})
    assert caught.value.code == ErrorCode.TEMPLATE_NOT_JSON and (
        caught.value.details["line"],
        caught.value.details["column"],
    ) == (2, 7)


def test_a_quote_newline_or_backslash_in_data_stays_text() -> None:
    credential = handlebars.compile('{"a": "{{{a}}}", "b": "x{{b}}y"}').render_json(
        {"a": 'q", "evil": "1', "b": "1\n2\\3"}
    )
    assert credential == {"a": 'q", "evil": "1', "b": "x1\n2\\3y"}


def test_hostile_sizes_are_bounded_and_fast() -> None:
    start = time.monotonic()
    big = "}}" + '\\"<abcde' * (1 << 17)  # 1 MiB of text that would end a naive renderer's string
    assert handlebars.compile('{"a": "{{a}}"}').render_json({"a": big})["a"].startswith("}}\\&quot;&lt;abcde")
    assert handlebars.compile('{"a": "{{{a}}}"}').render_json({"a": big})["a"] == big
    bomb = handlebars.compile("{{#each a}}{{#each ../a}}{{#each ../../a}}{{/each}}{{/each}}{{/each}}")
    with pytest.raises(TemplateError) as caught:
        bomb.render({"a": list(range(1000))})
    assert caught.value.code == ErrorCode.TEMPLATE_DATA and caught.value.details["limit"] == MAX_STEPS
    with pytest.raises(TemplateError, match="longer than"):
        handlebars.compile("{{#each a}}{{../b}}{{/each}}").render({"a": list(range(10)), "b": "x" * (1 << 20)})
    with pytest.raises(TemplateError, match="nest deeper"):
        handlebars.compile("{{#if a}}" * 100 + "{{/if}}" * 100)
    with pytest.raises(TemplateError, match="longer than"):
        handlebars.compile("x" * (2 << 20))
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(TemplateError) as caught:
        handlebars.compile("{{a}}").render({"a": deep})
    assert caught.value.details["field"] == "a"
    with pytest.raises(TemplateError, match="nests deeper"):
        handlebars.compile("[" * 1000 + "]" * 1000).render_json({})
    assert time.monotonic() - start < 20
