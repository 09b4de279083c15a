"""The ``websockets:`` list of a cassette (format version 2): how one socket is written, and
what a person sees when a hand-edited or damaged file holds a socket snaprun cannot read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import vcr.serialize

from snaprun import yamlio
from snaprun.cassettes import CassetteCorrupt, CassetteSerializer, open_cassette
from snaprun.cassettes.http_bodies import JSON_STYLES
from snaprun.cassettes.websocket_form import Frame, SocketRecording

TEST_ID = "tests/test_x.py::test_y"
COMMAND = "pytest --record-mode=once --snapshot-update tests/test_x.py::test_y"
URL = "ws://127.0.0.1:8000/v1/responses?model=gpt-4.1"
HI = '{"role":"user","content":"Hi"}'
# A Responses session: one turn, its answer, a text and a binary frame, a second turn that
# resends the first turn's input, and the client's close.
RECORDING = SocketRecording(
    url=URL,
    frames=[
        Frame("client", f'{{"type":"response.create","input":[{HI}]}}'),
        Frame("server", '{"type":"response.created","response":{"id":"resp_1"}}'),
        Frame("server", "not JSON"),
        Frame("client", f'{{"type":"response.create","input":[{HI},{HI}]}}'),
        Frame("client", b"\x00\x01\x02"),
    ],
    closed_by="client",
    close_code=1000,
)


def written(recordings: list[SocketRecording]) -> str:
    serializer = CassetteSerializer(header="a header")
    serializer.websockets = recordings
    return str(vcr.serialize.serialize({"requests": [], "responses": []}, serializer))


def test_a_socket_is_written_as_data_and_reads_back_exactly() -> None:
    text = written([RECORDING])
    assert text == (
        "# a header\n"
        "version: 2\n"
        "interactions: []\n"
        "websockets:\n"
        f"- url: {URL}\n"
        "  messages:\n"
        "  - client:\n"
        "      type: response.create\n"
        "      input:\n"
        "      - role: user\n"
        "        content: Hi\n"
        "  - server:\n"
        "      type: response.created\n"
        "      response:\n"
        "        id: resp_1\n"
        "  - server_text: not JSON\n"
        "  - client:\n"
        "      type: response.create\n"
        "      input:\n"
        "      - role: user\n"
        "        content: Hi\n"
        "    input_from_previous: 1\n"
        "  - client_binary: AAEC\n"
        "  closed:\n"
        "    by: client\n"
        "    code: 1000\n"
    )
    _, sockets = CassetteSerializer().load_file(text)
    assert sockets == [RECORDING]


def _set(*keys: Any, value: Any) -> Callable[[Any], None]:
    """Set ``data[k1][k2]…`` to ``value`` in the cassette's data."""

    def change(data: Any) -> None:
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return change


def _drop(*keys: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        for key in keys[:-1]:
            data = data[key]
        del data[keys[-1]]

    return change


SOCKET = ("websockets", 0)
MESSAGES = (*SOCKET, "messages")
FRAME_KEYS = "client, client_text, client_binary, server, server_text, server_binary"
# Each damage, and the problem the error names: the place in the file, then what is wrong.
DAMAGES = {
    "message not a mapping": (
        _set(*MESSAGES, 3, value="response.create"),
        "websockets[0].messages[3] should be a mapping, not str",
    ),
    "no url": (_drop(*SOCKET, "url"), "websockets[0] lacks url"),
    "url not text": (
        _set(*SOCKET, "url", value=8000),
        "websockets[0].url should be a str, not int",
    ),
    "no messages": (_drop(*SOCKET, "messages"), "websockets[0] lacks messages"),
    "messages not a list": (
        _set(*MESSAGES, value={"client": {}}),
        "websockets[0].messages should be a list, not dict",
    ),
    "unknown socket key": (
        _set(*SOCKET, "headers", value={"x": "y"}),
        "websockets[0] has unexpected key(s) headers",
    ),
    "unknown message key": (
        _set(*MESSAGES, 1, "note", value="x"),
        "websockets[0].messages[1] has unexpected key(s) note",
    ),
    "two payloads": (
        _set(*MESSAGES, 1, "client_text", value="x"),
        f"websockets[0].messages[1] should hold exactly one of {FRAME_KEYS}, "
        "not server, client_text",
    ),
    "no payload": (
        _set(*MESSAGES, 1, value={}),
        f"websockets[0].messages[1] should hold exactly one of {FRAME_KEYS}, not none",
    ),
    "text not text": (
        _set(*MESSAGES, 2, "server_text", value=3),
        "websockets[0].messages[2].server_text should be a str, not int",
    ),
    "delta past the previous input": (
        _set(*MESSAGES, 3, "input_from_previous", value=5),
        "websockets[0].messages[3].input_from_previous is 5, but the previous client message "
        "has 1 input item(s)",
    ),
    "delta on a server message": (
        _set(*MESSAGES, 1, "input_from_previous", value=1),
        "websockets[0].messages[1].input_from_previous needs a client message that is a mapping",
    ),
    "binary not base64": (
        _set(*MESSAGES, 4, "client_binary", value="!!"),
        "websockets[0].messages[4].client_binary is not base64: Only base64 data is allowed",
    ),
    "closed by a stranger": (
        _set(*SOCKET, "closed", "by", value="proxy"),
        "websockets[0].closed.by should be client or server, not 'proxy'",
    ),
    "json style unknown": (
        _set(*SOCKET, "json_style", value="tabs"),
        f"websockets[0].json_style should be one of {', '.join(JSON_STYLES)}, not 'tabs'",
    ),
    "websockets not a list": (
        _set("websockets", value={"url": URL}),
        "websockets should be a list, not dict",
    ),
    "websockets in version 1": (
        _set("version", value=1),
        "websockets: a cassette of format version 1 holds no WebSockets (they came with version 2)",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_websocket_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    change, problem = DAMAGES[damage]
    data = yamlio.load(written([RECORDING]))
    change(data)
    path = tmp_path / "test_y.yaml"
    path.write_text(yamlio.dump(data), encoding="utf-8")
    with (
        pytest.raises(CassetteCorrupt) as caught,
        open_cassette(path, record_mode="none", test_id=TEST_ID, rerecord_command=COMMAND),
    ):
        pass
    assert str(caught.value) == (
        f"snaprun: cassette {path} is corrupt: {problem}\n"
        f"Delete it and record it again with:\n  {COMMAND}"
    )
    assert caught.value.__suppress_context__  # no FormatError traceback under it
