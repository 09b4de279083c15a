"""syrupy's `exclude`, `include` and `matcher` over a golden's data, as syrupy's own JSON
extension applies them: `golden(exclude=props("text"))` and `golden(matcher=path_type(...))`
work as a syrupy user expects.

The filters decide which mapping keys are kept (list items are always kept); the matcher may
replace any value, the golden itself included. Both see syrupy's paths: a tuple of
(key or list index, type of the value) from the root, so `paths("runs.0.input")` and
`path_type({"runs.1.events.0.message.text": (str,)})` name places in the YAML file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syrupy.types import PropertyFilter, PropertyMatcher, PropertyPath


def filtered(
    data: Any,
    *,
    exclude: PropertyFilter | None = None,
    include: PropertyFilter | None = None,
    matcher: PropertyMatcher | None = None,
    path: PropertyPath = (),
) -> Any:
    """`data` with excluded keys left out and matched values replaced; `data` is not changed."""
    if matcher is not None:
        data = matcher(data=data, path=path)
    if isinstance(data, dict):
        return {
            key: filtered(
                value,
                exclude=exclude,
                include=include,
                matcher=matcher,
                path=(*path, (key, type(value))),
            )
            for key, value in data.items()
            if (exclude is None or not exclude(prop=key, path=path))
            and (include is None or include(prop=key, path=path))
        }
    if isinstance(data, list):
        return [
            filtered(
                value,
                exclude=exclude,
                include=include,
                matcher=matcher,
                path=(*path, (index, type(value))),
            )
            for index, value in enumerate(data)
        ]
    return data
