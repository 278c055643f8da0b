"""Text from outside (IAK's messages, a request's path, what someone typed) reaches a
terminal and the text logs without its control characters: a CR that makes a line overwrite
itself, an ESC that starts a terminal's escape sequence (colours, a cleared screen, a new
window title), a backspace that hides what came before."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and the C1 controls (U+009B starts an escape
# sequence on its own in some terminals)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    """`text` with every control character but tab and newline removed."""
    return _CONTROLS.sub("", text)
