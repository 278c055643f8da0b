"""A Babel extractor for the registry: our advice on each code, to translate like any text.

IAK's own fields (description, solution) are not extracted: they stay as IAK wrote them.
Babel calls `extract_advice` for `bot/registry/codes.yaml` (see babel.cfg).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

import yaml

# Babel's extractor protocol: (line number, function name, message, translator comments).
Extracted = tuple[int, str | None, str, list[str]]


def extract_advice(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Every row's `advice`, single-spaced as the registry loads it, with the row it is for."""
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
