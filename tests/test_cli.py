"""Tests of the `snaprun` command: show, prune, scan and review, each by its output text."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from snaprun import yamlio
from snaprun.cassettes.secrets import CREDENTIAL_ENV_VARS
from snaprun.cli import main
from snaprun.cli.project import Project
from snaprun.cli.scan import mask, scan_text
from snaprun.paths import golden_name, mirrored_dir

REPO = Path(__file__).resolve().parents[1]
SEED_GOLDEN = REPO / "__snapshots__" / "examples" / "test_seed" / "test_ice_cream.yaml"
PLANTED_KEY = "sk-test-" + "Zq8Lr2Vx7Nc4Tb1Mw9Hd5Kf3"  # 24 characters after the prefix


@pytest.fixture(autouse=True)
def quiet_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real credentials or NO_COLOR in the developer's shell must not change any result."""
    for name in (*CREDENTIAL_ENV_VARS, "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str, color: bool = False) -> Result:
    return CliRunner().invoke(main, list(args), color=color, catch_exceptions=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def seed() -> dict[str, Any]:
    data = yamlio.load(SEED_GOLDEN.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_help_lists_the_four_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("show", "prune", "scan", "review"):
        assert re.search(rf"^  {command} ", result.output, re.MULTILINE)


# --- show -----------------------------------------------------------------------------

SEED_CONVERSATION = """\
━━ run 1: start ━━
── handoff: (none) → EnterAgent ──
  ✎ chat context of EnterAgent
    + system: ENTER AGENT: system message
EnterAgent (say): ENTER AGENT: Say something deterministic
EnterAgent (generate_reply): Say something generated
━━ run 2: "Give me all ice cream types." ━━
user: Give me all ice cream types.
  → ice_cream_types({})
  ← ""
── handoff: EnterAgent → SecondAgent ──
  ✎ chat context of SecondAgent
    + system: SECOND AGENT: system message
SecondAgent (say): SECOND AGENT: Say something deterministic
SecondAgent (generate_reply): SECOND AGENT: Say something generated
━━ final chat context: SecondAgent ━━
system: Always follow instructions.
system: ENTER AGENT: system message
assistant: ENTER AGENT: Say something deterministic
assistant: Say something generated
user: Give me all ice cream types.
system: SECOND AGENT: system message
assistant: SECOND AGENT: Say something deterministic
assistant: SECOND AGENT: Say something generated
"""


def test_show_prints_the_seed_golden_as_a_conversation() -> None:
    result = invoke("show", str(SEED_GOLDEN))
    assert result.exit_code == 0
    assert result.output.splitlines()[:6] == [
        "━━ run 1: start ━━",
        "── handoff: (none) → EnterAgent ──",
        "  ✎ chat context of EnterAgent",
        "    + system: ENTER AGENT: system message",
        "EnterAgent (say): ENTER AGENT: Say something deterministic",
        "EnterAgent (generate_reply): Say something generated",
    ]
    assert result.output == SEED_CONVERSATION


def test_show_finds_the_golden_of_a_node_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = invoke("show", "examples/test_seed.py::test_ice_cream")
    assert result.exit_code == 0
    assert result.output == SEED_CONVERSATION


def test_show_takes_a_test_file_and_shows_each_of_its_goldens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    result = invoke("show", "examples/test_seed.py")
    assert result.exit_code == 0
    assert result.output == (
        "== __snapshots__/examples/test_seed/test_ice_cream.yaml ==\n" + SEED_CONVERSATION
    )


def test_show_a_test_file_without_goldens_says_how_to_record_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "tests" / "test_new.py", "def test_x(): pass\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("show", "tests/test_new.py")
    assert (result.exit_code, result.output) == (
        2,
        "snaprun show: no goldens for the tests of tests/test_new.py (looked in "
        "__snapshots__/tests/test_new); record them with: pytest --record-mode=once "
        "--snapshot-update tests/test_new.py\n",
    )


def test_show_colours_only_when_asked_or_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\x1b[" not in invoke("show", str(SEED_GOLDEN)).output  # piped
    coloured = invoke("show", str(SEED_GOLDEN), color=True).output
    assert "\x1b[1m━━ run 1: start ━━\x1b[0m" in coloured
    assert "\x1b[36m\x1b[1muser:\x1b[0m Give me all ice cream types." in coloured
    assert "\x1b[" not in invoke("show", "--no-color", str(SEED_GOLDEN), color=True).output
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in invoke("show", str(SEED_GOLDEN), color=True).output
    assert "\x1b[" in invoke("show", "--color", str(SEED_GOLDEN)).output


def test_show_draws_every_kind_of_event_and_several_sessions(tmp_path: Path) -> None:
    golden = {
        "sessions": [
            {
                "runs": [
                    {
                        "kind": "say",
                        "events": [
                            {
                                "message": {
                                    "role": "assistant",
                                    "source": "say",
                                    "text": "Hello\nthere \x1b[31mred",
                                    "interrupted": True,
                                }
                            },
                            {
                                "speech_without_message": {
                                    "source": "generate_reply",
                                    "outcome": "interrupted",
                                }
                            },
                        ],
                    },
                    {
                        "kind": "run",
                        "input": "Look it up",
                        "events": [
                            {"message": {"role": "user", "text": "Look it up"}},
                            {
                                "instructions_updated": {
                                    "agent": "Finder",
                                    "instructions": "Be brief.",
                                }
                            },
                            {
                                "tools_updated": {
                                    "agent": "Finder",
                                    "added": ["lookup"],
                                    "removed": ["old_tool"],
                                }
                            },
                            {
                                "function_call": {
                                    "name": "lookup",
                                    "call": "call-1",
                                    "arguments": {"q": "x"},
                                }
                            },
                            {
                                "function_call_output": {
                                    "name": "lookup",
                                    "call": "call-1",
                                    "output": "boom",
                                    "is_error": True,
                                }
                            },
                            {
                                "chat_ctx_updated": {
                                    "agent": "Finder",
                                    "removed": [{"role": "user", "text": "old"}],
                                }
                            },
                            {"surprise": 42},
                        ],
                    },
                ],
                "chat_ctx": {
                    "agent": "Finder",
                    "items": [
                        {"role": "user", "text": "Look it up"},
                        {"function_call": {"name": "lookup", "call": "call-1", "arguments": {}}},
                    ],
                },
            },
            {"runs": [{"kind": "background", "events": []}]},
        ]
    }
    path = write(tmp_path / "golden.yaml", yamlio.dump(golden))
    result = invoke("show", str(path))
    assert result.exit_code == 0
    assert result.output == textwrap.dedent(
        """\
        ══ session 1 ══
        ━━ run 1: say ━━
        assistant (say, interrupted): Hello
            there \\x1b[31mred
          ✗ generate_reply speech interrupted, no message
        ━━ run 2: "Look it up" ━━
        user: Look it up
          ✎ instructions of Finder: Be brief.
          ✎ tools of Finder: + lookup, - old_tool
          → lookup({"q": "x"})
          ← error: "boom"
          ✎ chat context of Finder
            - user: old
          ✎ surprise 42
        ━━ final chat context: Finder ━━
        user: Look it up
          → lookup({})
        ══ session 2 ══
        ━━ run 1: background ━━
        """
    )


CONFIGS = [
    ("pytest.ini", "[pytest]\nsnaprun_snapshot_dir = goldens\n"),
    ("pytest.toml", '[pytest]\nsnaprun_snapshot_dir = "goldens"\n'),
    ("pyproject.toml", '[tool.pytest.ini_options]\nsnaprun_snapshot_dir = "goldens"\n'),
    ("pyproject.toml", '[tool.pytest]\nsnaprun_snapshot_dir = "goldens"\n'),
    ("tox.ini", "[pytest]\nsnaprun_snapshot_dir = goldens\n"),
    ("setup.cfg", "[tool:pytest]\nsnaprun_snapshot_dir = goldens\n"),
]


@pytest.mark.parametrize(("config", "text"), CONFIGS, ids=[c for c, t in CONFIGS])
def test_show_reads_the_snapshot_dir_from_the_rootdir_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, text: str
) -> None:
    write(tmp_path / config, text)
    # A pyproject.toml without pytest settings does not make its directory the rootdir.
    write(tmp_path / "tests" / "pyproject.toml", "[tool.black]\nline-length = 100\n")
    write(tmp_path / "tests" / "test_x.py", "")
    write(
        tmp_path / "goldens" / "tests" / "test_x" / "TestC.test_d[a-b].yaml",
        SEED_GOLDEN.read_text(),
    )
    monkeypatch.chdir(tmp_path / "tests")
    as_pytest_prints_it = invoke("show", "tests/test_x.py::TestC::test_d[a-b]")
    as_typed_here = invoke("show", "test_x.py::TestC::test_d[a-b]")
    assert as_pytest_prints_it.exit_code == as_typed_here.exit_code == 0
    assert as_pytest_prints_it.output == as_typed_here.output == SEED_CONVERSATION


def test_node_ids_map_to_mirrored_paths() -> None:
    nodeid = "a/test_b.py::TestC::test_d[x]"
    assert mirrored_dir(nodeid) == "a/test_b"
    assert golden_name(nodeid) == "TestC.test_d[x]"
    assert golden_name("t.py::TestA::TestB::test_c") == "TestA.TestB.test_c"
    assert golden_name("t.py::test_p[a/b:c]") == "test_p[abc]"


ODD_TESTS = """
import pytest


@pytest.mark.parametrize("x", ["a/b", "c::d", "e\\tf", 'q"u?', "ü"])
def test_p(x):
    pass


class TestOuter:
    class TestInner:
        def test_n(self):
            pass
"""


def test_paths_agree_with_syrupy_and_the_cassette_fixture(pytester: pytest.Pytester) -> None:
    from syrupy.location import PyTestLocation

    from snaprun.golden.extension import golden_extension
    from snaprun.plugin import cassette_path

    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_odd=ODD_TESTS)
    items, _ = pytester.inline_genitems()
    assert len(items) == 6
    rootdir = Path(items[0].config.rootpath)
    project = Project(rootdir, rootdir / "__snapshots__", rootdir / "cassettes")
    extension = golden_extension(rootdir, "__snapshots__")
    for item in items:
        location = extension.get_location(test_location=PyTestLocation(item), index=0)
        assert project.golden_of(item.nodeid) == Path(location), item.nodeid
        assert project.cassette_of(item.nodeid) == cassette_path(item, item.config), item.nodeid


def test_show_a_missing_golden_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "pytest.ini", "[pytest]\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("show", "tests/test_x.py::test_gone")
    assert result.exit_code == 2
    assert result.stderr == (
        "snaprun show: no golden at __snapshots__/tests/test_x/test_gone.yaml "
        "(the golden of tests/test_x.py::test_gone)\n"
    )
    assert result.stdout == ""
    result = invoke("show", "nowhere.yaml")
    assert (result.exit_code, result.stderr) == (2, "snaprun show: no golden at nowhere.yaml\n")


def test_show_a_corrupt_golden_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "broken.yaml", "runs:\n- kind: start\n  events: [\n")
    result = invoke("show", "broken.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith("snaprun show: broken.yaml is corrupt: invalid YAML: ")
    assert "(line 4, column 1)" in result.stderr
    write(tmp_path / "other.yaml", "flavours: [vanilla]\n")
    result = invoke("show", "other.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        "snaprun show: other.yaml is not a snaprun golden (top level: missing 'runs')\n"
    )
    golden = seed()
    message = golden["runs"][1]["events"][6]["message"]
    message["txt"] = message.pop("text")
    write(tmp_path / "edited.yaml", yamlio.dump(golden))
    result = invoke("show", "edited.yaml")
    assert (result.exit_code, result.stderr) == (
        2,
        "snaprun show: edited.yaml is not a snaprun golden "
        "(runs[2].events[7].message: unknown key 'txt')\n",
    )
    (tmp_path / "latin1.yaml").write_bytes(b"runs: []\n# caf\xe9\n")
    result = invoke("show", "latin1.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith("snaprun show: cannot read latin1.yaml: 'utf-8' codec")


# --- scan -----------------------------------------------------------------------------

CASSETTE = f"""\
version: 1
interactions:
- request:
    method: POST
    uri: https://api.openai.com/v1/chat/completions
    headers:
      authorization:
      - Bearer {PLANTED_KEY}
      content-type:
      - application/json
"""


@pytest.fixture
def leaky_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a key planted in a cassette and an env var's value in a golden."""
    write(tmp_path / "pytest.ini", "[pytest]\n")
    write(tmp_path / "cassettes" / "tests" / "test_a" / "test_x.yaml", CASSETTE)
    golden = seed()
    golden["runs"][0]["events"][3]["message"]["text"] = "Your token is lk-secret-0123456789"
    write(tmp_path / "__snapshots__" / "tests" / "test_a" / "test_x.yaml", yamlio.dump(golden))
    monkeypatch.setenv("LIVEKIT_API_SECRET", "lk-secret-0123456789")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_scan_finds_a_planted_key_and_an_env_value_by_file_and_line(leaky_project: Path) -> None:
    result = invoke("scan")
    assert result.exit_code == 1
    assert result.output == (
        "__snapshots__/tests/test_a/test_x.yaml:19: value of $LIVEKIT_API_SECRET (lk-s…)\n"
        "cassettes/tests/test_a/test_x.yaml:8: sk- key (sk-t…)\n"
        "snaprun scan: 2 credentials found in 2 files; remove them and re-record\n"
    )
    golden_lines = (leaky_project / "__snapshots__/tests/test_a/test_x.yaml").read_text()
    assert "lk-secret-0123456789" in golden_lines.splitlines()[18]
    assert PLANTED_KEY not in result.output
    assert "lk-secret-0123456789" not in result.output


def test_scan_takes_the_files_pre_commit_passes(leaky_project: Path) -> None:
    result = invoke("scan", "cassettes/tests/test_a/test_x.yaml")
    assert result.exit_code == 1
    assert result.output == (
        "cassettes/tests/test_a/test_x.yaml:8: sk- key (sk-t…)\n"
        "snaprun scan: 1 credential found in 1 file; remove them and re-record\n"
    )


def test_scan_reports_clean_files_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "pytest.ini", "[pytest]\nsnaprun_cassette_dir = tapes\n")
    write(tmp_path / "__snapshots__" / "tests" / "test_a" / "test_x.yaml", SEED_GOLDEN.read_text())
    write(tmp_path / "tapes" / "tests" / "test_a" / "test_x.yaml", "version: 1\ninteractions: []\n")
    write(tmp_path / "cassettes" / "ignored.yaml", CASSETTE)  # not the configured dir
    monkeypatch.chdir(tmp_path)
    result = invoke("scan")
    assert (result.exit_code, result.output) == (
        0,
        "snaprun scan: no credentials found in 2 files\n",
    )


def test_scan_says_when_there_is_nothing_to_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("scan")
    assert (result.exit_code, result.output) == (
        0,
        "snaprun scan: nothing to scan: no files in __snapshots__, cassettes\n",
    )


def test_scan_looks_for_the_values_of_extra_env_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name not shaped like a credential (`*_KEY`, `*_TOKEN`… are looked for unasked).
    path = write(tmp_path / "x.yaml", "a: 1\nb: my-deepgram-project-42\n")
    monkeypatch.setenv("DEEPGRAM_PROJECT", "my-deepgram-project-42")
    assert invoke("scan", str(path)).exit_code == 0
    result = invoke("scan", "--env", "DEEPGRAM_PROJECT", str(path))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{path}:2: value of $DEEPGRAM_PROJECT (my-d…)"


def test_scan_looks_for_the_values_of_the_ini_secret_env_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "pytest.ini", "[pytest]\nsnaprun_secret_env_vars =\n    DEEPGRAM_API_KEY\n")
    write(tmp_path / "cassettes" / "test_a" / "test_x.yaml", "a: 1\nb: my-deepgram-key-42\n")
    monkeypatch.setenv("DEEPGRAM_API_KEY", "my-deepgram-key-42")
    monkeypatch.chdir(tmp_path)
    result = invoke("scan")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "cassettes/test_a/test_x.yaml:2: value of $DEEPGRAM_API_KEY (my-d…)"
    )


def test_scan_a_missing_path_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("scan", "gone.yaml")
    assert (result.exit_code, result.stderr) == (
        2,
        "snaprun scan: no such file or directory: gone.yaml\n",
    )


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("line", "kind", "masked"),
    [
        (f"  token: {JWT}", "JWT", "eyJh…"),
        ("  aws: AKIAIOSFODNN7EXAMPLE", "AWS access key", "AKIA…"),
        ("  aws: ASIAY34FZKBOKMUTVV7A,", "AWS access key", "ASIA…"),
        ("  - Bearer abc.def-ghi_jkl", "Bearer token", "abc…"),
        ("      x-api-key: a1b2c3d4e5f6a7b8", "x-api-key header", "a1b2…"),
        ('  body: \'{"api_key": "a1b2c3d4e5f6", "model": "x"}\'', "api_key header", "a1b…"),
        ("  Api-Key: ['0123456789abcdef']", "api-key header", "0123…"),
        (f"  text: use {PLANTED_KEY} here", "sk- key", "sk-t…"),
        ("  anthropic: sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "sk- key", "sk-a…"),
    ],
)
def test_scan_recognises_each_shape_of_secret(line: str, kind: str, masked: str) -> None:
    findings = scan_text(f"first: line\n{line}\n", "f.yaml", {})
    assert [str(f) for f in findings] == [f"f.yaml:2: {kind} ({masked})"]


@pytest.mark.parametrize(
    "line",
    [
        "  authorization: Bearer REDACTED",
        "  authorization: '<redacted>'",
        "  x-api-key: null",
        "  api-key: ''",
        "  text: Authorization: required for this tool",
        "  api_key: sk-test",
        "  text: ask-me-anything-about-our-flavours-today",
        "  call: call-1",
    ],
)
def test_scan_leaves_placeholders_and_prose_alone(line: str) -> None:
    assert scan_text(line + "\n", "f.yaml", {}) == []


def test_scan_reports_a_header_value_on_the_next_line_once() -> None:
    text = "headers:\n  authorization:\n  - Basic dXNlcjpwYXNzd29yZA==\n"
    assert [str(f) for f in scan_text(text, "c.yaml", {})] == [
        "c.yaml:3: authorization header (dXNl…)"
    ]


def test_a_mask_shows_four_characters_at_most_and_a_quarter_of_the_secret() -> None:
    assert mask(PLANTED_KEY) == "sk-t…"
    assert mask("abcdefgh") == "ab…"


def test_the_pre_commit_hook_runs_scan_on_yaml_files() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "snaprun-scan"
    assert hook["entry"] == "snaprun scan"
    assert hook["language"] == "system"  # nothing to install
    files = re.compile(hook["files"])
    assert files.search("cassettes/a/test_b.yaml") and files.search("ci.yml")
    assert not files.search("test_b.py") and not files.search("a.yaml.bak")


# --- prune ----------------------------------------------------------------------------

TESTS_A = """\
import pytest


def test_keep():
    pass


class TestC:
    def test_m(self):
        pass


@pytest.mark.parametrize("x", ["a/b", "c"])
def test_p(x):
    pass


class TestOuter:
    class TestInner:
        def test_n(self):
            pass
"""


@pytest.fixture
def pruned_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Six tests; three goldens and cassettes of tests that no longer exist."""
    write(tmp_path / "pytest.ini", "[pytest]\nsnaprun_cassette_dir = tapes\n")
    write(tmp_path / "tests" / "test_a.py", TESTS_A)
    write(tmp_path / "tests" / "sub" / "test_b.py", "def test_b():\n    pass\n")
    owned = [
        "__snapshots__/tests/test_a/test_keep.yaml",
        "__snapshots__/tests/test_a/test_keep.1.yaml",
        "__snapshots__/tests/test_a/TestC.test_m.yaml",
        "__snapshots__/tests/test_a/test_p[ab].yaml",
        "__snapshots__/tests/test_a/test_p[c].yaml",
        "__snapshots__/tests/sub/test_b/test_b.yaml",
        "__snapshots__/tests/test_a/TestOuter.TestInner.test_n.yaml",
        "__snapshots__/README.md",
        "tapes/tests/test_a/test_keep.yaml",
        "tapes/tests/test_a/test_p[ab].yaml",
        "tapes/tests/test_a/TestOuter.TestInner.test_n.yaml",
    ]
    unowned = [
        "__snapshots__/tests/test_a/test_renamed.yaml",
        "__snapshots__/tests/test_gone/test_x.yaml",
        "tapes/tests/test_a/TestC.test_old.yaml",
    ]
    for name in owned + unowned:
        write(tmp_path / name, "runs: []\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


UNOWNED_LIST = """\
  __snapshots__/tests/test_a/test_renamed.yaml
  __snapshots__/tests/test_gone/test_x.yaml
  tapes/tests/test_a/TestC.test_old.yaml
"""


def test_prune_lists_unowned_goldens_and_cassettes_without_deleting(pruned_project: Path) -> None:
    result = invoke("prune")
    assert result.exit_code == 0
    assert result.output == (
        "snaprun prune: 3 files that none of 6 collected tests owns (--delete removes them):\n"
        + UNOWNED_LIST
    )
    assert (pruned_project / "__snapshots__/tests/test_gone/test_x.yaml").exists()


def test_prune_delete_removes_them_and_their_empty_directories(pruned_project: Path) -> None:
    result = invoke("prune", "--delete")
    assert result.exit_code == 0
    assert result.output == (
        "snaprun prune: deleted 3 files that none of 6 collected tests owns:\n" + UNOWNED_LIST
    )
    assert not (pruned_project / "__snapshots__/tests/test_a/test_renamed.yaml").exists()
    assert not (pruned_project / "__snapshots__/tests/test_gone").exists()
    assert not (pruned_project / "tapes/tests/test_a/TestC.test_old.yaml").exists()
    assert (pruned_project / "__snapshots__/tests/test_a/test_p[ab].yaml").exists()
    assert (pruned_project / "tapes/tests/test_a/test_keep.yaml").exists()
    again = invoke("prune")
    assert again.output == "snaprun prune: no unused goldens or cassettes (6 collected tests).\n"


def test_prune_check_fails_when_a_file_has_no_test_and_deletes_nothing(
    pruned_project: Path,
) -> None:
    result = invoke("prune", "--check")
    assert result.exit_code == 1
    assert result.output == (
        "snaprun prune: 3 files that none of 6 collected tests owns (--delete removes them):\n"
        + UNOWNED_LIST
    )
    assert (pruned_project / "__snapshots__/tests/test_gone/test_x.yaml").exists()
    invoke("prune", "--delete")
    assert invoke("prune", "--check").exit_code == 0


def test_prune_check_and_delete_exclude_each_other(pruned_project: Path) -> None:
    result = invoke("prune", "--check", "--delete")
    assert result.exit_code == 2
    assert "--check and --delete exclude each other: check, or delete." in result.output
    assert (pruned_project / "__snapshots__/tests/test_gone/test_x.yaml").exists()


def test_prune_limits_itself_to_the_paths_it_is_given(pruned_project: Path) -> None:
    result = invoke("prune", "--delete", "tests/sub")
    assert result.exit_code == 0
    assert result.output == "snaprun prune: no unused goldens or cassettes (1 collected test).\n"
    assert (pruned_project / "__snapshots__/tests/test_gone/test_x.yaml").exists()


def test_prune_deletes_nothing_when_collection_fails(pruned_project: Path) -> None:
    write(pruned_project / "tests" / "test_broken.py", "def test_(:\n")
    result = invoke("prune", "--delete")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "snaprun prune: test collection failed (pytest exit code 2); nothing is pruned, since "
        "every golden would look unused.\n"
    )
    assert "test_broken.py" in result.stderr
    assert (pruned_project / "__snapshots__/tests/test_gone/test_x.yaml").exists()


def test_prune_tells_cassettes_inside_the_snapshot_dir_from_goldens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "pytest.ini", "[pytest]\nsnaprun_cassette_dir = __snapshots__/tapes\n")
    write(tmp_path / "tests" / "test_a.py", "def test_x():\n    pass\n")
    write(tmp_path / "__snapshots__/tests/test_a/test_x.yaml", "runs: []\n")
    write(tmp_path / "__snapshots__/tapes/tests/test_a/test_x.yaml", "version: 1\n")
    write(tmp_path / "__snapshots__/tapes/tests/test_a/test_y.yaml", "version: 1\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("prune", "--delete")
    assert result.output == (
        "snaprun prune: deleted 1 file that none of 1 collected test owns:\n"
        "  __snapshots__/tapes/tests/test_a/test_y.yaml\n"
    )
    assert (tmp_path / "__snapshots__/tapes/tests/test_a/test_x.yaml").exists()
    assert (tmp_path / "__snapshots__/tests/test_a/test_x.yaml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-k", "keep"],
            "snaprun prune: 5 tests were deselected (-k, -m or --deselect); nothing is pruned, "
            "since their goldens would look unused.\n",
        ),
        (
            ["tests/test_a.py::test_keep"],
            "snaprun prune: tests/test_a.py::test_keep selects single tests; give files or "
            "directories, or the other tests' goldens would look unused.\n",
        ),
        (
            ["-k", "nothing_matches"],
            "snaprun prune: pytest collected no tests; nothing is pruned, since every golden "
            "would look unused.\n",
        ),
    ],
)
def test_prune_refuses_a_partial_collection(
    pruned_project: Path, args: list[str], message: str
) -> None:
    result = invoke("prune", "--delete", *args)
    assert (result.exit_code, result.stderr) == (2, message)
    assert (pruned_project / "__snapshots__/tests/test_gone/test_x.yaml").exists()


# --- review ---------------------------------------------------------------------------

GOLDEN = "__snapshots__/tests/test_agent/test_order.yaml"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository whose first commit holds the seed golden."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Reviewer")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "reviewer@example.com")
    root = tmp_path / "project"
    write(root / "pytest.ini", "[pytest]\n")
    write(root / GOLDEN, SEED_GOLDEN.read_text())
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "golden")
    monkeypatch.chdir(root)
    return root


def change_the_golden(root: Path) -> None:
    """Event 7 says something else, and the user answers in a new event 8."""
    golden = seed()
    events = golden["runs"][1]["events"]
    events[6]["message"]["text"] = "SECOND AGENT: Which flavour?"
    events.append({"message": {"role": "user", "text": "Vanilla <script>alert(1)</script>"}})
    write(root / GOLDEN, yamlio.dump(golden))


CHANGED_EVENT_7 = (
    '! changed event 7 — message: text "SECOND AGENT: Say something generated" → '
    '"SECOND AGENT: Which flavour?"'
)
REVIEW_OF_THE_CHANGE = f"""\
### modified: `{GOLDEN}`

1 event added, 1 event changed.

```diff
@@ run 2 (input "Give me all ice cream types.") @@
{CHANGED_EVENT_7}
+ added event 8 — message user "Vanilla <script>alert(1)</script>"
```
"""


def test_review_summarises_a_changed_golden_event_by_event(repo: Path) -> None:
    change_the_golden(repo)
    result = invoke("review", "--base", "HEAD")
    assert result.exit_code == 0
    assert result.output == (
        "## snaprun review: 1 golden changed since `HEAD`\n\n" + REVIEW_OF_THE_CHANGE
    )


def test_review_compares_a_branch_with_where_it_left_the_base(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    change_the_golden(repo)
    git(repo, "commit", "-q", "-am", "agent asks for a flavour")
    git(repo, "checkout", "-q", "main")
    write(repo / "__snapshots__/tests/test_agent/test_other.yaml", SEED_GOLDEN.read_text())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main moves on")
    git(repo, "checkout", "-q", "feature")
    merge_base = git(repo, "merge-base", "main", "HEAD")
    result = invoke("review", "--base", "main")
    assert result.exit_code == 0
    assert result.output == (
        f"## snaprun review: 1 golden changed since `main (merge base {merge_base[:10]})`\n\n"
        + REVIEW_OF_THE_CHANGE
    )


def test_review_lists_added_and_deleted_goldens_after_modified_ones(repo: Path) -> None:
    hello = {
        "runs": [{"kind": "say", "events": [{"message": {"role": "assistant", "text": "Hi"}}]}]
    }
    write(repo / "__snapshots__/tests/test_agent/test_say[x].yaml", yamlio.dump(hello))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a second golden")
    hello["runs"][0]["events"][0]["message"]["text"] = "Hello"
    write(repo / "__snapshots__/tests/test_agent/test_say[x].yaml", yamlio.dump(hello))
    write(repo / "__snapshots__/tests/test_agent/test_untracked.yaml", yamlio.dump(hello))
    (repo / GOLDEN).unlink()
    result = invoke("review")
    assert result.exit_code == 0
    assert result.output == textwrap.dedent(
        """\
        ## snaprun review: 3 goldens changed since `HEAD`

        ### modified: `__snapshots__/tests/test_agent/test_say[x].yaml`

        1 event changed.

        ```diff
        @@ run 1 (kind "say") @@
        ! changed event 1 — message: text "Hi" → "Hello"
        ```

        ### added: `__snapshots__/tests/test_agent/test_untracked.yaml`

        New golden: 1 run, 1 event.

        ```diff
        @@ run 1 (kind "say") @@
        + message assistant "Hello"
        ```

        ### deleted: `__snapshots__/tests/test_agent/test_order.yaml`

        Deleted golden: 2 runs, 11 events.

        ```diff
        @@ run 1 (start) @@
        - agent_handoff (none) → EnterAgent
        - chat_ctx_updated EnterAgent +1 -0
        - message assistant "ENTER AGENT: Say something deterministic"
        - message assistant "Say something generated"
        @@ run 2 (input "Give me all ice cream types.") @@
        - message user "Give me all ice cream types."
        - function_call ice_cream_types {}
        - function_call_output ice_cream_types ""
        - agent_handoff EnterAgent → SecondAgent
        - chat_ctx_updated SecondAgent +1 -0
        - message assistant "SECOND AGENT: Say something deterministic"
        - message assistant "SECOND AGENT: Say something generated"
        @@ chat_ctx (SecondAgent) @@
        - message system "Always follow instructions."
        - message system "ENTER AGENT: system message"
        - message assistant "ENTER AGENT: Say something deterministic"
        - message assistant "Say something generated"
        - message user "Give me all ice cream types."
        - message system "SECOND AGENT: system message"
        - message assistant "SECOND AGENT: Say something deterministic"
        - message assistant "SECOND AGENT: Say something generated"
        ```
        """
    )


def test_review_shows_a_renamed_test_s_golden_as_a_rename(repo: Path, tmp_path: Path) -> None:
    renamed = repo / "__snapshots__/tests/test_agent/test_ice_cream_order.yaml"
    write(renamed, (repo / GOLDEN).read_text())
    (repo / GOLDEN).unlink()
    another = repo / "__snapshots__/tests/test_agent/test_new.yaml"
    write(another, SEED_GOLDEN.read_text().replace("Always", "Never"))
    result = invoke("review", "--html", str(tmp_path / "site"))
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "## snaprun review: 2 goldens changed since `HEAD`\n\n"
        "### renamed: `__snapshots__/tests/test_agent/test_ice_cream_order.yaml`\n\n"
        f"Renamed from `{GOLDEN}`; no event changed.\n\n"
        "### added: `__snapshots__/tests/test_agent/test_new.yaml`\n"
    )
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    index = page.split('<nav class="index">')[1].split("</nav>")[0]
    assert index.count("<li>") == 2
    assert (
        '<li><a href="#golden-1"><span class="status status-renamed">renamed</span> '
        "<code>__snapshots__/tests/test_agent/test_ice_cream_order.yaml</code></a> "
        f'<span class="count">Renamed from {GOLDEN}; no event changed</span></li>'
    ) in index
    assert '<span class="count">New golden: 2 runs, 11 events</span>' in index
    assert '<h2 id="golden-2">' in page


def test_review_without_changes_says_so(repo: Path) -> None:
    result = invoke("review")
    assert (result.exit_code, result.output) == (
        0,
        "## snaprun review\n\nNo golden changed since `HEAD`.\n",
    )


def test_review_names_a_golden_it_cannot_read(repo: Path) -> None:
    write(repo / GOLDEN, "runs: [\n")
    result = invoke("review")
    assert result.exit_code == 0
    assert (
        f"### modified: `{GOLDEN}`\n\nsnaprun could not compare it: the working-tree version "
        "is not valid YAML: invalid YAML:"
    ) in result.output


def test_review_counts_run_and_chat_context_changes(repo: Path) -> None:
    golden = seed()
    golden["runs"][1]["input"] = "Give me every ice cream type."
    golden["runs"].append({"kind": "say", "events": []})
    golden["chat_ctx"]["items"].pop()
    write(repo / GOLDEN, yamlio.dump(golden))
    result = invoke("review")
    assert "\n1 run added, 1 run changed, 1 chat context item removed.\n" in result.output
    assert (
        '@@ run 2 (input "Give me all ice cream types.") @@\n'
        '  input "Give me all ice cream types." → "Give me every ice cream type."\n'
        '@@ run 3 (kind "say") @@\n'
        "+ added run\n"
        "@@ chat_ctx @@\n"
        '- removed item 8 — message assistant "SECOND AGENT: Say something generated"\n'
    ) in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "nope"], "snaprun review: 'nope' is not a git revision here\n"),
    ],
)
def test_review_refuses_an_unknown_base(repo: Path, args: list[str], message: str) -> None:
    result = invoke("review", *args)
    assert (result.exit_code, result.stderr) == (2, message)


def test_review_outside_git_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    write(tmp_path / "pytest.ini", "[pytest]\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("review")
    assert (result.exit_code, result.stderr) == (
        2,
        "snaprun review: . is not in a git repository\n",
    )


class Highlights(HTMLParser):
    """The text inside each element marked `data-change`, with the change's name."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[list[Any]] = []  # [change, depth, text parts]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for element in self._open:
            element[1] += 1
        change = dict(attrs).get("data-change")
        if change:
            self._open.append([change, 1, []])

    def handle_endtag(self, tag: str) -> None:
        for element in self._open:
            element[1] -= 1
        while self._open and self._open[-1][1] == 0:
            change, _, parts = self._open.pop()
            self.found.append((change, "".join(parts)))

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element[2].append(data)


def review_page(repo: Path, out: Path) -> Path:
    change_the_golden(repo)
    result = invoke("review", "--html", str(out))
    assert result.exit_code == 0
    assert result.stderr == f"snaprun review: wrote {out / 'index.html'}\n"
    assert result.stdout.startswith("## snaprun review: 1 golden changed since `HEAD`")
    return out / "index.html"


def test_review_html_highlights_the_changed_events(repo: Path, tmp_path: Path) -> None:
    page = review_page(repo, tmp_path / "site").read_text(encoding="utf-8")
    parser = Highlights()
    parser.feed(page)
    assert parser.found == [
        (
            "changed",
            "SecondAgent (generate_reply)SECOND AGENT: Say something generated →"
            "SECOND AGENT: Which flavour?",
        ),
        ("added", "userVanilla <script>alert(1)</script>"),
    ]
    assert '<div class="entry agent changed bubble" data-change="changed">' in page
    assert "<del>SECOND AGENT: Say something generated</del>" in page
    assert "Vanilla &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert "<link" not in page and "src=" not in page  # self-contained


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="no `chromium` binary on PATH (Debian: apt-get install -y chromium)",
)
def test_review_html_renders_in_a_headless_browser(repo: Path, tmp_path: Path) -> None:
    page = review_page(repo, tmp_path / "site")
    screenshot = tmp_path / "review.png"
    command = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--screenshot={screenshot}",
        "--window-size=1200,900",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert screenshot.exists(), done.stderr
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5 * 1024
    html = page.read_text(encoding="utf-8")
    changed = re.search(r'data-change="changed">(.*?)</div></div>', html)
    assert changed is not None and "SECOND AGENT: Which flavour?" in changed.group(1)
