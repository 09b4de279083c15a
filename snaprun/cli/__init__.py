"""The `snaprun` command: show, prune, scan and review goldens and cassettes.

Each command finds the project as pytest does (`project.find_project`) and hands the work to
render, prune, scan, review or review_page. A command that cannot do its work exits with
status 2 and a message naming the file or the cause.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import click

from snaprun import yamlio
from snaprun.cassettes.secrets import secrets_from_env
from snaprun.cli.project import CommandError, Project, find_project
from snaprun.cli.prune import collect, delete, unowned
from snaprun.cli.render import conversation
from snaprun.cli.review import base_commit, changed_goldens, repository_top, review_markdown
from snaprun.cli.review_page import review_page
from snaprun.cli.scan import credential_env_names, files_under, scan_files
from snaprun.paths import mirrored_dir, shown
from snaprun.shape import GoldenShapeError
from snaprun.timeline import Timeline


class Failure(click.ClickException):
    """A command that cannot do its work: the message says why, the exit status is 2."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(self.message, err=True)


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """A CommandError from the modules becomes a Failure: its message on stderr, exit 2."""
    try:
        yield
    except CommandError as error:
        raise Failure(str(error)) from None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="snaprun")
def main() -> None:
    """Golden transcripts of LiveKit agents: show, prune, scan and review them."""


# --- show -----------------------------------------------------------------------------


def _color(option: bool | None) -> bool | None:
    """An explicit --color/--no-color wins; then NO_COLOR (https://no-color.org); then a tty."""
    if option is not None:
        return option
    return False if os.environ.get("NO_COLOR") else None


@main.command(short_help="A golden as a readable conversation.")
@click.argument("target", metavar="PATH|NODEID")
@click.option("--color/--no-color", default=None, help="Colour even when piped, or never.")
def show(target: str, color: bool | None) -> None:
    """Print a golden as a conversation: who said what, tool calls, handoffs, context.

    PATH|NODEID is a golden's path, a test's node id, or a test file (all its tests' goldens).
    """
    if target.endswith(".py") and "::" not in target:
        with _reported():
            paths = _goldens_of_file(target)
        for index, path in enumerate(paths):
            click.echo(("\n" if index else "") + f"== {shown(path)} ==", color=_color(color))
            _show(_read_golden(path, ""), color)
        return
    with _reported():
        path = _golden_path(target)
    _show(_read_golden(path, target if "::" in target else ""), color)


def _show(golden: Timeline, color: bool | None) -> None:
    for line in conversation(golden):
        click.echo(line, color=_color(color))


def _rootdir_relative(test_file: str, project: Project) -> str:
    """pytest prints node ids relative to the rootdir; a path typed here may be relative to here."""
    typed_here = Path.cwd() / test_file
    if typed_here.is_file():
        with contextlib.suppress(ValueError):
            return typed_here.resolve().relative_to(project.rootdir.resolve()).as_posix()
    return test_file


def _golden_path(target: str) -> Path:
    if "::" not in target:
        return Path(target)
    project = find_project(Path.cwd())
    test_file, separator, rest = target.partition("::")
    return project.golden_of(_rootdir_relative(test_file, project) + separator + rest)


def _goldens_of_file(test_file: str) -> list[Path]:
    """The goldens of every test in `test_file`, in file-name order."""
    if not Path(test_file).is_file():
        raise CommandError(f"snaprun show: no such test file: {test_file}")
    project = find_project(Path.cwd())
    folder = project.snapshot_dir / mirrored_dir(_rootdir_relative(test_file, project))
    goldens = sorted(folder.glob("*.yaml"))
    if not goldens:
        raise CommandError(
            f"snaprun show: no goldens for the tests of {test_file} (looked in {shown(folder)}); "
            "record them with: pytest --record-mode=once --snapshot-update " + test_file
        )
    return goldens


def _read_golden(path: Path, nodeid: str) -> Timeline:
    name = shown(path) + (f" (the golden of {nodeid})" if nodeid else "")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Failure(f"snaprun show: no golden at {name}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise Failure(f"snaprun show: cannot read {name}: {error}") from None
    try:
        return Timeline.from_data(yamlio.load(text))
    except yamlio.YamlError as error:
        raise Failure(f"snaprun show: {name} is corrupt: {error}") from None
    except GoldenShapeError as error:
        raise Failure(f"snaprun show: {name} is not a snaprun golden ({error})") from None


# --- prune ----------------------------------------------------------------------------


@main.command(
    short_help="Goldens and cassettes no test owns.",
    context_settings={"ignore_unknown_options": True},
)
@click.option("--delete", "delete_files", is_flag=True, help="Delete the files, not list them.")
@click.option("--check", is_flag=True, help="Exit 1 when there are any (for CI); delete nothing.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def prune(delete_files: bool, check: bool, pytest_args: tuple[str, ...]) -> None:
    """List (or --delete) goldens and cassettes that no collected test owns.

    PYTEST_ARGS go to `pytest --collect-only -q`, run from the rootdir; files or directories
    among them limit the pruning to their tests' goldens and cassettes. With --check, the
    command fails (exit 1) when it finds any, so a CI job catches a renamed test's files.
    """
    if check and delete_files:
        raise click.UsageError("--check and --delete exclude each other: check, or delete.")
    with _reported():
        project = find_project(Path.cwd())
        collection = collect(project, pytest_args)
    paths = unowned(project, collection)
    tests = _plural(len(collection.nodeids), "collected test")
    if not paths:
        click.echo(f"snaprun prune: no unused goldens or cassettes ({tests}).")
        return
    files = _plural(len(paths), "file")
    if delete_files:
        delete(project, paths)
        click.echo(f"snaprun prune: deleted {files} that none of {tests} owns:")
    else:
        click.echo(f"snaprun prune: {files} that none of {tests} owns (--delete removes them):")
    for path in paths:
        click.echo(f"  {shown(path)}")
    if check:
        raise SystemExit(1)


# --- scan -----------------------------------------------------------------------------


@main.command(short_help="Credentials in cassettes and goldens.")
@click.option(
    "--env",
    "env_names",
    multiple=True,
    metavar="NAME",
    help="Also look for the value of this environment variable (repeatable).",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def scan(env_names: tuple[str, ...], paths: tuple[Path, ...]) -> None:
    """Find credentials in cassettes and goldens (default: the snapshot and cassette dirs).

    Looks for the values of the credential variables set here (OPENAI_API_KEY,
    AZURE_OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLE_API_KEY, LIVEKIT_API_KEY,
    LIVEKIT_API_SECRET, the ini key snaprun_secret_env_vars and each --env), sk- keys,
    Bearer tokens, JWTs, AWS access keys and api-key / x-api-key / authorization headers.
    Exits 1 if it finds any.
    """
    missing = [path for path in paths if not path.exists()]
    if missing:
        raise Failure(f"snaprun scan: no such file or directory: {missing[0]}")
    with _reported():
        project = find_project(Path.cwd())
    if not paths:
        paths = (Path(shown(project.snapshot_dir)), Path(shown(project.cassette_dir)))
    names = credential_env_names([*project.secret_env_vars, *env_names])
    secrets = secrets_from_env(names, os.environ)
    result = scan_files(files_under(paths), secrets)
    if not result.files:
        where = ", ".join(str(path) for path in paths)
        click.echo(f"snaprun scan: nothing to scan: no files in {where}")
        return
    files = _plural(result.files, "file")
    if not result.findings:
        click.echo(f"snaprun scan: no credentials found in {files}")
        return
    for finding in result.findings:
        click.echo(str(finding))
    credentials = _plural(len(result.findings), "credential")
    click.echo(f"snaprun scan: {credentials} found in {files}; remove them and re-record")
    raise SystemExit(1)


# --- review ---------------------------------------------------------------------------


@main.command(short_help="Changed goldens, event by event, in Markdown.")
@click.option(
    "--base",
    metavar="REF",
    default="HEAD",
    show_default=True,
    help="The git revision to compare the working tree's goldens with.",
)
@click.option(
    "--html",
    "html_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write DIR/index.html showing each changed conversation.",
)
def review(base: str, html_dir: Path | None) -> None:
    """Summarise, event by event, the goldens changed since --base, in Markdown.

    The output is ready for a pull-request comment or `>> $GITHUB_STEP_SUMMARY`.
    """
    with _reported():
        project: Project = find_project(Path.cwd())
        top = repository_top(project.rootdir)
        commit, base_name = base_commit(base, top)
        changes = changed_goldens(project, top, commit)
    click.echo(review_markdown(changes, base_name), nl=False)
    if html_dir is not None:
        html_dir.mkdir(parents=True, exist_ok=True)
        page = html_dir / "index.html"
        page.write_text(review_page(changes, base_name), encoding="utf-8")
        click.echo(f"snaprun review: wrote {shown(page)}", err=True)
