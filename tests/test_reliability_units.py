"""reliability, by example: the pure rules behind tests/test_reliability.py (secrets by value and
shape, query parameters, file names, YAML strictness, options, writes that are all or nothing)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from snaprun import yamlio
from snaprun.cassettes.config import without_secret_params as scrubbed
from snaprun.cassettes.errors import SecretInCassette
from snaprun.cassettes.secrets import check_no_secrets, credential_env_names
from snaprun.cli.scan import scan_text
from snaprun.files import WriteFailed, write_together
from snaprun.integrity import overlapping_folders
from snaprun.options import InvalidOption, settle_timeout
from snaprun.paths import collisions, file_of, golden_name

KEY = "sk-" + "aB3/dE6+gH9" * 3


def sse(*contents: str) -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"content": c}}]} for c in contents]
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]"


ENCODED = {
    "raw": KEY,
    "url": quote(KEY, safe=""),
    "json": json.dumps(KEY)[1:-1],
    "slash-escaped": KEY.replace("/", "\\/"),
    "base64": base64.b64encode(KEY.encode()).decode(),
    "base64, offset 1": base64.b64encode(b"x" + KEY.encode()).decode(),
    "base64, offset 2": base64.b64encode(f"u:{KEY}".encode()).decode(),
    "urlsafe base64": base64.urlsafe_b64encode(f"u:{KEY}".encode()).decode(),
}


@pytest.mark.parametrize("form", list(ENCODED))
def test_a_listed_value_is_refused_in_every_encoded_form(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(SecretInCassette, match=r"the value of \$OPENAI_API_KEY \(in the body"):
        check_no_secrets(tmp_path / "c.yaml", "", [("the body of x", ENCODED[form].encode())], [])


def test_a_value_split_across_stream_chunks_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_PASSWORD", "hunter2-hunter2")
    body = sse("The password is hunter2-", "hunter2 ok")
    with pytest.raises(SecretInCassette) as caught:
        check_no_secrets(tmp_path / "c.yaml", "", [("the body of response #1", body)], [])
    assert "$SERVICE_PASSWORD (in the whole text of the body of response #1)" in str(caught.value)


def test_variables_named_like_credentials_are_looked_for() -> None:
    environ = {"DEEPGRAM_API_KEY": "x", "MY_CLIENT_SECRET_V2": "x", "GH_TOKEN": "x", "HOME": "/"}
    names = credential_env_names(["EXTRA"], environ)
    assert {"OPENAI_API_KEY", "EXTRA", "DEEPGRAM_API_KEY", "MY_CLIENT_SECRET_V2"} <= set(names)
    assert "GH_TOKEN" in names and "HOME" not in names


@pytest.mark.parametrize(
    "shape",
    [
        "sk-ant-api03-" + "Q" * 30,
        "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "ghp_" + "a1B2c3D4e5" * 4,
        "AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_a_key_shape_is_refused_without_any_environment(shape: str, tmp_path: Path) -> None:
    with pytest.raises(SecretInCassette, match="it would contain a "):
        check_no_secrets(tmp_path / "c.yaml", f"url: https://h/{shape}/x\n", [], [])


def test_query_parameters_are_kept_only_when_harmless() -> None:
    assert scrubbed("https://h/v1/x?apikey=abc&alt=sse") == "https://h/v1/x?alt=sse"
    assert scrubbed("https://h/v1/x?code=1234&jwt=eyJ&sig=ab&auth=c") == "https://h/v1/x"
    assert scrubbed("https://h/v1/x?q=hello&n=2") == "https://h/v1/x?q=hello&n=2"
    assert scrubbed("https://h/v1/x?opaque=Xk9fQ2mZ7pL4vB8nR1tY6wE3") == (
        "https://h/v1/x?opaque=REDACTED"
    )


SCANNED = {
    "sk- key": "x-api-key: sk-ant-api03-" + "Q" * 30,
    "Google API key": "url: https://g/v1/m:gen?alt=sse&k=AIza"
    + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "GitHub token": "text: ghp_" + "a1B2c3D4e5" * 4,
    "apikey query parameter": "uri: https://h/v1/x?apikey=0123456789abcdef",
    "code query parameter": "uri: https://h/cb?code=4/0AX4XfWh-long-code",
    "high-entropy deepgram_key": '"deepgram_key": "Xk9fQ2mZ7pL4vB8nR1tY6wE3"',
}


@pytest.mark.parametrize("kind", list(SCANNED))
def test_scan_knows_the_common_shapes(kind: str) -> None:
    [finding] = scan_text(SCANNED[kind], "f.yaml", {})
    assert finding.kind == kind


def test_scan_finds_an_env_value_base64_encoded() -> None:
    line = "authorization-ish: " + base64.b64encode(f"user:{KEY}".encode()).decode()
    [finding] = scan_text(line, "f.yaml", {KEY: "OPENAI_API_KEY"})
    assert finding.kind == "value of $OPENAI_API_KEY"


def test_scan_leaves_ordinary_ids_alone() -> None:
    text = "id: chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\ncompletion_tokens: 12\ncode: 200\n"
    assert scan_text(text, "f.yaml", {}) == []


def test_long_ids_fit_a_file_name_stably_and_apart() -> None:
    first, second = (f"tests/test_a.py::test_x[{'é' * 200}{end}]" for end in "12")
    names = [golden_name(first), golden_name(second)]
    assert names[0] != names[1] and names == [golden_name(first), golden_name(second)]
    assert all(len(f".{name}.yaml.abcdefgh.tmp".encode()) <= 255 for name in names)
    assert file_of(Path("g"), first).name == f"{names[0]}.yaml"
    assert golden_name("tests/test_a.py::test_x[short]") == "test_x[short]"


def test_ids_that_differ_only_in_unsafe_characters_collide() -> None:
    ids = ["t.py::test[a/b]", "t.py::test[ab]", "t.py::test[a:b]", "t.py::test[ba]"]
    assert collisions(ids) == [
        ("t.py::test[a/b]", "t.py::test[ab]"),
        ("t.py::test[a/b]", "t.py::test[a:b]"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a' (line 2, column 1)"),
        ("\ufeffa: 1\n", "byte order mark"),
    ],
)
def test_yaml_refuses_duplicate_keys_and_a_bom(text: str, problem: str) -> None:
    with pytest.raises(yamlio.YamlError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        yamlio.load(text)


@pytest.mark.parametrize("raw", ["-5", "0", "nan", "inf", "soon"])
def test_settle_timeout_must_be_a_positive_finite_number(raw: str) -> None:
    with pytest.raises(InvalidOption, match="snaprun_settle_timeout must be a number of seconds"):
        settle_timeout(raw)
    assert settle_timeout("2.5") == 2.5


def test_nested_folders_are_refused_only_where_tests_mirror_onto_both(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    snapshots = tmp_path / "__snapshots__"
    assert overlapping_folders(snapshots, snapshots / "tapes", tmp_path) is None
    assert "nested" in str(overlapping_folders(snapshots, snapshots / "tests", tmp_path))
    assert "same folder" in str(
        overlapping_folders(snapshots, tmp_path / "__snapshots__", tmp_path)
    )


def test_a_failed_write_leaves_every_file_of_the_batch_as_it_was(tmp_path: Path) -> None:
    golden = tmp_path / "g" / "one.yaml"
    golden.parent.mkdir()
    golden.write_text("old golden\n")
    (tmp_path / "c").write_text("a file where the cassette folder should be\n")
    with pytest.raises(WriteFailed) as caught:
        write_together([(golden, "new golden\n"), (tmp_path / "c" / "one.yaml", "cassette\n")])
    assert caught.value.path == tmp_path / "c" / "one.yaml"
    assert golden.read_text() == "old golden\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["c", "one.yaml"]


def test_prune_deletes_nothing_when_a_module_is_skipped_at_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from snaprun.cli import main

    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests").mkdir()
    skipped = (
        "import pytest\npytest.importorskip('no_such_gpu_library')\n\n\ndef test_s():\n    pass\n"
    )
    (tmp_path / "tests" / "test_s.py").write_text(skipped)
    (tmp_path / "tests" / "test_b.py").write_text("def test_b():\n    pass\n")
    golden = tmp_path / "__snapshots__" / "tests" / "test_s" / "test_s.yaml"
    golden.parent.mkdir(parents=True)
    golden.write_text("runs: []\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["prune", "--delete"])
    assert result.exit_code != 0
    assert "snaprun prune: tests/test_s.py was skipped at collection; nothing is pruned" in (
        result.output
    )
    assert golden.exists()
