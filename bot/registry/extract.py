"""A Babel extractor for the registry: our advice on each code and the titles of its links,
to translate like any text.

IAK's own fields (description, solution) are not extracted: they stay as IAK wrote them.
Babel calls `extract_advice` for `bot/registry/codes.yaml` (see babel.cfg).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import IO

import yaml

from bot.shapes import JsonView

# Babel's extractor protocol: (line number, function name, message, translator comments).
Extracted = tuple[int, str | None, str, list[str]]


def extract_advice(
    fileobj: IO[bytes],
    keywords: JsonView,
    comment_tags: Collection[str],
    options: JsonView,
) -> Iterator[Extracted]:
    """Every row's `advice`, single-spaced as the registry loads it, and its links' titles,
    with the row they are for."""
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if not isinstance(root, yaml.MappingNode):
        return
    for key, rows in root.value:
        if key.value != "codes" or not isinstance(rows, yaml.SequenceNode):
            continue
        for row in rows.value:
            fields = {k.value: v for k, v in row.value}
            advice = fields.get("advice")
            if advice is None:
                continue
            table = fields["table"].value if "table" in fields else ""
            code = fields["code"].value if "code" in fields else ""
            text = " ".join(str(advice.value).split())
            yield advice.start_mark.line + 1, None, text, [f"advice on {table} code {code}"]
            links = fields.get("links")
            if isinstance(links, yaml.SequenceNode):
                for link in links.value:
                    title = {k.value: v for k, v in link.value}.get("title")
                    if title is not None:
                        comment = [f"link button on {table} code {code}"]
                        yield title.start_mark.line + 1, None, str(title.value), comment
