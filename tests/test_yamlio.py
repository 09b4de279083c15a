"""Tests for snaprun.yamlio: exact canonical text, round-trips, errors.

Some tests reach into private names (``_dump_with``, ``_PY_DUMPER`` ...) to
check that libyaml and the pure-Python fallback produce identical text.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snaprun import yamlio
from snaprun.yamlio import YamlError, dump, load

HAS_C = yamlio._C_DUMPER is not None
needs_c = pytest.mark.skipif(not HAS_C, reason="PyYAML built without libyaml")

DUMPERS = [pytest.param(yamlio._PY_DUMPER, id="py-dumper")]
if HAS_C:
    DUMPERS.append(pytest.param(yamlio._C_DUMPER, id="c-dumper"))


# --------------------------------------------------------------------------
# Exact text
# --------------------------------------------------------------------------

TRANSCRIPT = {
    "runs": [
        {
            "kind": "start",
            "events": [
                {"agent_handoff": {"from": None, "to": "EnterAgent"}},
                {
                    "message": {
                        "role": "assistant",
                        "source": "say",
                        "text": "line one\nline two",
                    }
                },
            ],
        }
    ]
}

TRANSCRIPT_YAML = """\
runs:
- kind: start
  events:
  - agent_handoff:
      from: null
      to: EnterAgent
  - message:
      role: assistant
      source: say
      text: |-
        line one
        line two
"""


@pytest.mark.parametrize("dumper", DUMPERS)
def test_transcript_exact_text(dumper: type) -> None:
    assert yamlio._dump_with(TRANSCRIPT, dumper) == TRANSCRIPT_YAML
    assert dump(TRANSCRIPT) == TRANSCRIPT_YAML
    assert load(TRANSCRIPT_YAML) == TRANSCRIPT


def test_key_order_is_kept_not_sorted() -> None:
    assert dump({"zeta": 1, "alpha": 2, "mid": {"b": 1, "a": 2}}) == (
        "zeta: 1\nalpha: 2\nmid:\n  b: 1\n  a: 2\n"
    )


LONG = "word " * 100 + "end"

EXACT: list[tuple[object, str]] = [
    # Scalars at the root: no "---", no "...", exactly one trailing newline.
    ("abc", "abc\n"),
    (None, "null\n"),
    (True, "true\n"),
    (-7, "-7\n"),
    (1.5, "1.5\n"),
    (1e16, "1.0e+16\n"),
    (float("inf"), ".inf\n"),
    (float("-inf"), "-.inf\n"),
    ("", "''\n"),
    ({}, "{}\n"),
    ([], "[]\n"),
    ({"k": {}, "l": []}, "k: {}\nl: []\n"),
    ([[1, 2], [3]], "- - 1\n  - 2\n- - 3\n"),
    # Quoting of strings that would load back as something else.
    ({"k": "yes"}, "k: 'yes'\n"),
    ({"k": "1e3"}, "k: '1e3'\n"),
    ({"k": "0o17"}, "k: '0o17'\n"),
    ({"k": "y"}, "k: 'y'\n"),
    ({"k": "a: b"}, "k: 'a: b'\n"),
    ({"k": "- x"}, "k: '- x'\n"),
    ({"k": "it's"}, "k: it's\n"),
    ({"k": "'q"}, "k: '''q'\n"),
    # Unicode is written raw, including astral characters.
    ({"k": "héllo 世界 😀"}, "k: héllo 世界 😀\n"),
    ({"😀": "x"}, "😀: x\n"),
    # Multi-line strings: literal blocks with the right indicators.
    ({"k": "a\nb\n"}, "k: |\n  a\n  b\n"),
    ({"k": "a\n\n", "z": 1}, "k: |+\n  a\n\nz: 1\n"),
    ({"k": "  indented\nx"}, "k: |2-\n    indented\n  x\n"),
    ({"k": "\nfirst empty"}, "k: |2-\n\n  first empty\n"),
    ({"k": "a\n\n\nb"}, "k: |-\n  a\n\n\n  b\n"),
    ("top\nlevel", "|-\n  top\n  level\n"),
    # ...but a final keep-chomped block would end the file in blank lines.
    ({"k": "a\n\n"}, 'k: "a\\n\\n"\n'),
    (["x", "\n"], '- x\n- "\\n"\n'),
    # Multi-line strings a literal block cannot carry exactly.
    ({"k": "trailing \nspace"}, 'k: "trailing \\nspace"\n'),
    ({"k": "a\nb "}, 'k: "a\\nb "\n'),
    ({"k": "tab\there"}, 'k: "tab\\there"\n'),
    ({"k": "cr\r\nlf"}, 'k: "cr\\r\\nlf"\n'),
    ({"k": "nel\x85ls\u2028ps\u2029"}, 'k: "nel\\Nls\\Lps\\P"\n'),
    ({"k": "\ufeffbom"}, 'k: "\\uFEFFbom"\n'),
    ({"k": "bell\x07"}, 'k: "bell\\a"\n'),
    # Multi-line keys use the explicit "? " form.
    ({"a\nb": 1}, "? |-\n  a\n  b\n: 1\n"),
    # Never wrapped.
    ({"k": LONG}, f"k: {LONG}\n"),
    ({"k": LONG + "\n" + LONG}, f"k: |-\n  {LONG}\n  {LONG}\n"),
]


@pytest.mark.parametrize(("data", "text"), EXACT)
def test_exact_text(data: object, text: str) -> None:
    assert dump(data) == text
    assert yamlio._dump_with(data, yamlio._PY_DUMPER) == text
    assert load(text) == data


def test_shared_sub_objects_are_written_out_not_aliased() -> None:
    shared = {"role": "user", "tags": ["a"]}
    data = {"first": shared, "second": shared, "both": [shared, shared]}
    text = dump(data)
    assert "&" not in text
    assert "*" not in text
    assert text == (
        "first:\n  role: user\n  tags:\n  - a\n"
        "second:\n  role: user\n  tags:\n  - a\n"
        "both:\n- role: user\n  tags:\n  - a\n- role: user\n  tags:\n  - a\n"
    )
    assert load(text) == data


# --------------------------------------------------------------------------
# YAML-hostile strings
# --------------------------------------------------------------------------

# fmt: off
HOSTILE = [
    "", " ", "  ", "\t", "\n", "\n\n", " \n", "\n ", "\r", "\r\n", "a\rb",
    "yes", "Yes", "YES", "no", "No", "on", "On", "off", "OFF", "y", "n", "Y", "N",
    "true", "False", "TRUE", "null", "Null", "NULL", "~", "=", "<<",
    "1", "-1", "+1", "01", "0o17", "0x1F", "0b101", "1_000", "1.0", "-.5", ".5", "1.",
    "1e3", "1E3", "1.0e3", "1.0e+3", "-1e-3", ".inf", "-.Inf", ".nan", "NaN", "inf",
    "1:20", "190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "12:30",
    "- x", "-", "--", "---", "--- x", "...", "... x", "-x", "?", "? x", ":", ": x",
    "a: b", "a:b", "a :b", "a #b", "a#b", "#x", "# x", "!x", "!!str x", "&a", "*a",
    "%TAG", "@x", "`x", "|", "|-", ">", ">+ x", "[", "]", "{", "}", "[a, b]", "{a: b}",
    ",x", "x,", "'", '"', "'x'", '"x"', "it's", 'say "hi"', "\\", "\\n", "\\U0001F600",
    " lead", "trail ", " both ", "a  b", "a\tb", "\ttab", "tab\t",
    "😀", "😀 x", "x 😀", "👍🏽", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "é", "日本語", "עברית", "\u200b", "\u00a0",
    "\u00a0x", "x\u00a0", "\ufeff", "\ufffe", "\uffff", "\U0010ffff", "\x00", "\x1b[0m",
    "\x7f", "\x85", "\u2028", "\u2029", "a\u2028b", "\ue000",
    "line one\nline two", "a\n", "a\n\n", "a\n\n\n", "\na", "\n\na\n\n", " a\nb",
    "a\n b", "a \nb", "a\n \nb", "a\nb ", "a\n\tb", "- a\n- b", "a: 1\nb: 2",
    "---\nx", "x\n---", "x\n...\ny", "# not a comment\nx", "😀\n😀 \n",
    "x" * 200, "x " * 200, "x\n" * 50,
]
# fmt: on


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_string_round_trips(text: str) -> None:
    for data in (text, {"k": text}, [text, "after"], {text: text, "after": 1}):
        dumped = dump(data)
        assert load(dumped) == data, dumped
        assert dump(load(dumped)) == dumped
        assert dumped.endswith("\n") and not dumped.endswith("\n\n"), dumped
        for loader in (yamlio._PY_LOADER, yamlio._FAST_LOADER):
            assert yamlio._load_with(dumped, loader) == data


@pytest.mark.parametrize(
    "text",
    ["yes", "no", "on", "null", "~", "1.0", "0x1F", "1e3", "- x", "a: b", "#x", " x", "x ", ""],
)
def test_type_lookalikes_are_quoted(text: str) -> None:
    assert dump({"k": text})[3] in "'\"", dump({"k": text})


def test_emoji_and_unicode_are_not_escaped() -> None:
    text = dump({"k": "😀 ünïcødé 日本 \u00a0"})
    assert "\\" not in text
    assert "😀" in text


@pytest.mark.parametrize("size", [1, 60, 61, 64, 65, 121, 122, 123, 124, 127, 128, 129, 200])
@pytest.mark.parametrize("char", ["k", "é", "日", "😀"])
def test_long_keys_round_trip_and_match_fallback(size: int, char: str) -> None:
    data = {char * size: char * size}
    text = dump(data)
    assert load(text) == data
    assert text == yamlio._dump_with(data, yamlio._PY_DUMPER)


# --------------------------------------------------------------------------
# Rejected input
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        (1, 2),
        {1, 2},
        b"bytes",
        {1: "int key"},
        {None: "null key"},
        {"k": [object()]},
        {"k": math},
    ],
)
def test_non_plain_data_is_rejected(data: object) -> None:
    with pytest.raises(TypeError, match=r"\$"):
        dump(data)


def test_error_names_the_path() -> None:
    with pytest.raises(TypeError, match=r"tuple at \$\['runs'\]\[1\]"):
        dump({"runs": [1, (2,)]})


def test_circular_reference_is_rejected() -> None:
    loop: list[object] = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        dump({"k": loop})


def test_lone_surrogate_is_rejected() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        dump({"k": "\ud800"})


# --------------------------------------------------------------------------
# Malformed YAML
# --------------------------------------------------------------------------

MALFORMED = [
    ("a: 1\n b: 2\n", 2),
    ("runs:\n- kind: start\n  events: [1, 2\n", 4),
    ("a: 'unterminated\n", 2),
    ("- a\nb: 1\n", 2),
    ("a: 1\n---\nb: 2\n", 2),
    ("a:\n\tb: 1\n", 2),
    ("ok: 1\nbad: \x01\n", 2),
    ("a: *undefined\n", 1),
    ("a: !!python/object:os.system x\n", 1),
    ("{a: 1, [b]: 2}\n", 1),
    ("when: 2001-02-30\n", 1),
    ("n: 0b_\n", 1),
]


@pytest.mark.parametrize(("text", "line"), MALFORMED)
def test_malformed_yaml_raises_yaml_error_with_line(text: str, line: int) -> None:
    with pytest.raises(YamlError, match=rf"line {line}, column \d+") as info:
        load(text)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.line == line
    assert error.column is not None and error.column >= 1
    assert "\n" not in str(error)
    # A clean error, not a chained yaml traceback.
    assert error.__cause__ is None and error.__context__ is None


def test_too_deep_nesting_raises_yaml_error() -> None:
    with pytest.raises(YamlError, match="deep"):
        load("[" * 5000)


@pytest.mark.parametrize(("text", "data"), [("", None), ("# only a comment\n", None)])
def test_empty_document_loads_as_none(text: str, data: object) -> None:
    assert load(text) == data


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

# Characters with a meaning in YAML, mixed into arbitrary unicode so that
# random strings hit quoting and block-scalar edge cases often.  Lone
# surrogates are left out: dump rejects them (see test_lone_surrogate...).
YAML_SPECIAL = [*" \n\t\r:#-?'\"{}[],&*!|>%@`~.\\", *"\x85\u2028\u2029\ufeff\u00a0\x00😀é"]
UNICODE_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(YAML_SPECIAL))
TEXT = UNICODE_TEXT | st.sampled_from(HOSTILE)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
PLAIN = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=25,
)

# Strings libyaml handles, to exercise the C emitter path (it also sees tabs).
BMP_TEXT = st.text(
    st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs", "Cc"))
    | st.sampled_from(list(" \n\t:#-?'\"{}[],&*!|>%@`~."))
)
BMP_PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | BMP_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(BMP_TEXT, children, max_size=4)
    ),
    max_leaves=25,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(PLAIN)
def test_load_dump_round_trips(data: object) -> None:
    text = dump(data)
    assert load(text) == data
    assert yamlio._load_with(text, yamlio._PY_LOADER) == data


@FAST
@given(PLAIN)
def test_dump_is_a_fixed_point(data: object) -> None:
    text = dump(data)
    assert dump(load(text)) == text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert not text.startswith("---") and not text.endswith("\n...\n")


@FAST
@given(PLAIN)
def test_dump_does_not_depend_on_libyaml(data: object) -> None:
    assert dump(data) == yamlio._dump_with(data, yamlio._PY_DUMPER)


@needs_c
@FAST
@given(BMP_PLAIN)
def test_c_and_pure_emitters_agree_when_c_is_used(data: object) -> None:
    c_dumper = yamlio._C_DUMPER
    assert c_dumper is not None
    if yamlio._check_plain(data, [], set()):
        assert yamlio._dump_with(data, c_dumper) == yamlio._dump_with(data, yamlio._PY_DUMPER)
    assert load(dump(data)) == data


@FAST
@given(st.text(st.sampled_from(YAML_SPECIAL + list("ab01\n  "))))
def test_load_only_ever_raises_yaml_error(text: str) -> None:
    try:
        load(text)
    except YamlError as error:
        assert "\n" not in str(error)
