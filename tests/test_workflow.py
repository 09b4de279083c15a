"""examples/ci/snaprun.yml, the workflow users copy: its steps, run here as GitHub would run them.

The project is the README's "Use it in your project" one; `main` holds its recorded goldens, and
a pull request changes what the agent says. Everything after the install step runs as written
by bash, with GitHub's variables set; only `gh` (GitHub's API, out of reach offline) is a stand-in
that keeps what it was asked to post.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_readme import LIVEKIT

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = yaml.safe_load((ROOT / "examples/ci/snaprun.yml").read_text())
STEPS = WORKFLOW["jobs"]["goldens"]["steps"]

# What `gh pr comment` does here: no earlier comment to edit, then a new comment, kept in a file.
GH = """#!/bin/sh
case "$*" in *--edit-last*) echo "no comments found for current user" >&2; exit 1;; esac
while [ $# -gt 0 ]; do [ "$1" = --body-file ] && cat "$2" > "$GH_POSTED"; shift; done
"""


def sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A git repository whose `main` has recorded goldens, checked out at a PR changing a reply."""
    from test_readme import block, taking_llm, thirty_seconds

    tmp_path = tmp_path_factory.mktemp("workflow")
    repo = tmp_path / "repo"
    repo.mkdir()
    settings = block("toml", "[tool.pytest.ini_options]")
    if LIVEKIT < (1, 7):  # the README's "livekit-agents versions": the seed's lost reply
        settings += 'snaprun_runresult_check = "off"\n'
    (repo / "pyproject.toml").write_text(settings)
    conftest = block("python", "from snaprun.testing import Reply, ScriptedServer, ToolCall")
    (repo / "conftest.py").write_text(conftest)
    (repo / "my_agents.py").write_text((ROOT / "examples/seed_agents.py").read_text())
    (repo / "test_ice_cream.py").write_text(taking_llm(thirty_seconds()))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENAI_"))},
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
        + os.environ["PATH"],
        "CI": "true",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    record = "pytest -p no:cacheprovider -q --record-mode=rewrite --snapshot-update"
    setup = [
        "git init -q -b main",
        record,
        "git add -A",
        "git commit -qm recorded",
        "git update-ref refs/remotes/origin/main main",
        "git checkout -q -b change",
    ]
    for command in setup:
        assert sh(command, repo, env).returncode == 0, command
    (repo / "conftest.py").write_text(
        conftest.replace('text="Say something generated"', 'text="Something generated, anew"')
    )
    changed = sh(f"{record} && git commit -qam 'a new reply'", repo, env)
    assert changed.returncode == 0, changed.stdout
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "gh").write_text(GH)
    (tmp_path / "bin" / "gh").chmod(0o755)
    env |= {
        "GITHUB_BASE_REF": "main",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GH_POSTED": str(tmp_path / "posted.md"),
        "PR": "7",
    }
    return repo, env


def test_the_workflow_replays_offline_and_posts_the_review(
    pull_request: tuple[Path, dict[str, str]],
) -> None:
    repo, env = pull_request
    names = [step.get("name") for step in STEPS]
    after_install = STEPS[names.index("Install") + 1 :]
    for step in after_install:
        result = sh(step["run"], repo, env)
        assert result.returncode == 0, (step["name"], result.stdout, result.stderr)

    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("## snaprun review: 1 golden changed since `origin/main`")
    assert "Something generated, anew" in summary
    assert Path(env["GH_POSTED"]).read_text() == summary


def test_the_workflow_fails_on_a_golden_no_test_owns(
    pull_request: tuple[Path, dict[str, str]],
) -> None:
    repo, env = pull_request
    orphan = repo / "__snapshots__/test_gone/test_x.yaml"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("runs: []\n")
    (step,) = [s for s in STEPS if s.get("name") == "Goldens and cassettes no test owns"]
    result = sh(step["run"], repo, env)
    orphan.unlink()
    assert result.returncode == 1
    assert "__snapshots__/test_gone/test_x.yaml" in result.stdout
