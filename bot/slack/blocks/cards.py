"""Remediation cards and the other answers of `/iak code`, `/iak codes` and `/iak help`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.registry import Matches, Provenance, Registry, ResponseCode, Status, Table, Unknown
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    button,
    context,
    escape,
    header,
    link_button,
    plain_section,
    section,
    truncate,
)

STATUS_EMOJI = {
    Status.SUCCESS: ":white_check_mark:",
    Status.FAILED: ":x:",
    Status.PENDING: ":hourglass_flowing_sand:",
    Status.SUCCESS_OR_FAILED: ":grey_question:",
}
STOPS_SALES = ":rotating_light:"
SHARE_ACTION = "share_card"
SHOW_CARD_ACTION = "show_card"
MAX_SEARCH_LINES = 10
MAX_SEARCH_BUTTONS = 5
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")


@dataclass(frozen=True)
class CommandHelp:
    """One line of `/iak help`: how to call a subcommand and what it does."""

    usage: str
    does: str


def status_badge(status: Status) -> str:
    """`:x: *Failed*`: the status with its emoji."""
    return f"{STATUS_EMOJI[status]} *{status.value}*"


def code_line(code: ResponseCode) -> str:
    """One line per code for lists: code, description, what to do."""
    stops = f" {STOPS_SALES}" if code.stops_sales else ""
    return f"`{code.code}` {escape(code.description)}{stops} — _{code.action.label}_"


def provenance_note(code: ResponseCode) -> str | None:
    """Where IAK's words on the card come from, when not from IAK's live table."""
    if code.source is Provenance.SEED:
        return None
    return "From IAK's reference documentation (added after the published table)."


def remediation_blocks(code: ResponseCode) -> list[Block]:
    """The body of a remediation card: status, what to do, IAK's own solution (no header)."""
    badges = [status_badge(code.status)]
    if code.stops_sales:
        badges.append(f"{STOPS_SALES} *Stops all sales*")
    badges.append(f"Who acts: *{code.owner.label}*")
    blocks: list[Block] = [context("   ".join(badges))]
    if code.table is Table.HTTP:
        blocks.append(section(escape(code.description)))
    blocks.append(
        section(f"*What to do: {code.action.label}* ({code.owner.label})\n{escape(code.advice)}")
    )
    blocks.append(section(f"*IAK's solution*\n>{escape(code.solution)}"))
    provenance = provenance_note(code)
    if provenance:
        blocks.append(context(provenance))
    return blocks


def remediation_card(
    code: ResponseCode,
    *,
    note: str | None = None,
    shared_by: str | None = None,
    shareable: bool = True,
) -> Message:
    """The card for one response code, with link buttons and (unless shared) a Share button."""
    blocks: list[Block] = [header(code.title)]
    if note:
        blocks.append(plain_section(note))
    blocks.extend(remediation_blocks(code))
    elements = [
        link_button(link.title, link.url, f"link_{index}") for index, link in enumerate(code.links)
    ]
    if shareable and shared_by is None:
        elements.append(button("Share in channel", SHARE_ACTION, code.code))
    if elements:
        blocks.append(actions(*elements, block_id=f"card_{code.code}"))
    if shared_by is not None and _SLACK_USER.match(shared_by):
        blocks.append(context(f"Shared by <@{shared_by}> · `/iak code {code.code}`"))
    text = f"{code.title} ({code.status.value}). What to do: {code.action.label}. {code.advice}"
    if note:
        text = f"{note} {text}"
    return {"text": truncate(escape(text), 3000), "blocks": blocks}


def codes_list(registry: Registry) -> Message:
    """Every code, grouped by status: the answer to `/iak codes`."""
    blocks: list[Block] = [header("IAK response codes")]
    order = (Status.FAILED, Status.PENDING, Status.SUCCESS)
    groups = registry.by_status()
    for status in order:
        codes = groups.get(status, [])
        if not codes:
            continue
        title = f"{STATUS_EMOJI[status]} *{status.value}* ({len(codes)})"
        blocks.extend(_line_sections(title, [code_line(code) for code in codes]))
    http_lines = [f"`{code.code}` {escape(code.description)}" for code in registry.http_rows()]
    blocks.extend(_line_sections("*HTTP status of IAK's answer*", http_lines))
    blocks.append(
        context(
            f"`/iak code <code>` for the full card · `/iak code <words>` to search · "
            f"{STOPS_SALES} stops all sales"
        )
    )
    total = sum(len(codes) for codes in groups.values())
    return {"text": f"{total} IAK response codes, grouped by status.", "blocks": blocks}


def _line_sections(title: str, lines: Sequence[str]) -> list[Block]:
    """A titled list, split into as many sections as the 3,000-character limit needs."""
    out: list[Block] = []
    current = title
    for line in lines:
        if len(current) + 1 + len(line) > 2900:
            out.append(section(current))
            current = line
        else:
            current = f"{current}\n{line}"
    out.append(section(current))
    return out


def search_results(result: Matches, *, shareable: bool = True) -> Message:
    """Codes matching the words of `/iak code <words>`, best first."""
    if len(result.codes) == 1:
        return remediation_card(
            result.codes[0],
            note=f"The only code matching “{result.corrected or result.query}”:",
            shareable=shareable,
        )
    shown = result.codes[:MAX_SEARCH_LINES]
    blocks: list[Block] = [header(truncate(f"Codes matching “{result.query}”", 150))]
    if result.corrected:
        blocks.append(
            plain_section(f"Nothing matched “{result.query}”; showing “{result.corrected}”.")
        )
    lines = [f"{STATUS_EMOJI[code.status]} {code_line(code)}" for code in shown]
    if len(result.codes) > len(shown):
        lines.append(f"_+{len(result.codes) - len(shown)} more: add words to narrow it down_")
    blocks.extend(_line_sections("Best match first:", lines))
    blocks.append(
        actions(
            *(
                button(truncate(code.title, 75), f"{SHOW_CARD_ACTION}_{code.code}", code.code)
                for code in shown[:MAX_SEARCH_BUTTONS]
            ),
            block_id="search_results",
        )
    )
    best = shown[0]
    text = (
        f"{len(result.codes)} codes match. Best: {best.title} ({best.status.value}), "
        f"{best.action.label}."
    )
    return {"text": escape(text), "blocks": blocks}


def unknown_code(result: Unknown) -> Message:
    """Nothing matched: say so plainly and offer the closest known codes."""
    query = truncate(result.query, 100)
    if result.suggestions:
        lead = f"“{query}” is not a known IAK code."
    else:
        lead = f"Nothing in IAK's response codes matches “{query}”."
    blocks: list[Block] = [plain_section(lead)]
    text = lead
    if result.suggestions:
        lines = "\n".join(code_line(code) for code in result.suggestions)
        blocks.append(section(f"*Closest known codes*\n{lines}"))
        text += " Closest: " + ", ".join(code.code for code in result.suggestions) + "."
    blocks.append(
        context("`/iak codes` lists every code · `/iak code <words>` searches their descriptions")
    )
    return {"text": escape(text), "blocks": blocks}


def help_message(commands: Sequence[CommandHelp], *, note: str | None = None) -> Message:
    """Usage of `/iak`: every subcommand with an example."""
    blocks: list[Block] = [header("/iak: IAK response codes and transactions")]
    if note:
        blocks.append(plain_section(note))
    lines = [f"`{entry.usage}`  {entry.does}" for entry in commands]
    blocks.extend(_line_sections("*Commands*", lines))
    text = "Usage: " + "; ".join(entry.usage for entry in commands)
    if note:
        text = f"{note} {text}"
    return {"text": escape(text), "blocks": blocks}
