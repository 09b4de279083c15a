"""What the scripted LLM answers in the seed scenario (used to record its cassette)."""

from snaprun.testing import Reply, ToolCall

SEED_REPLIES = [
    Reply(match="ENTER AGENT: Say 'Say something generated'", text="Say something generated"),
    Reply(match="Give me all ice cream types.", tool_calls=(ToolCall("ice_cream_types"),)),
    Reply(
        match="Say 'SECOND AGENT: Say something generated'",
        text="SECOND AGENT: Say something generated",
    ),
]
