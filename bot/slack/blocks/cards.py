"""Remediation cards and the other answers of `/iak code`, `/iak codes` and `/iak help`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.registry import (
    Line,
    Matches,
    Provenance,
    Registry,
    ResponseCode,
    Status,
    Table,
    Unknown,
)
from bot.slack.blocks.markup import Mrkdwn, as_mrkdwn, is_user_id, join, md, mention
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    button,
    context,
    header,
    link_button,
    message,
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
TABLE_NAMES = {
    Table.HTTP: "HTTP",
    Table.PREPAID: "Prepaid",
    Table.GAME: "Game inquiry",
    Table.POSTPAID: "Postpaid",
}
# Codes that mean "this product": their cards point at the product's price-list entry.
PRODUCT_CODES = frozenset({"20", "106"})
SHARE_ACTION = "share_card"
SHOW_CARD_ACTION = "show_card"
MAX_SEARCH_LINES = 10
MAX_SEARCH_BUTTONS = 5


@dataclass(frozen=True)
class CommandHelp:
    """One line of `/iak help`: how to call a subcommand and what it does."""

    usage: str
    does: str


def status_badge(status: Status) -> str:
    """`:x: *Failed*`: the status with its emoji."""
    return f"{STATUS_EMOJI[status]} *{status.value}*"


def code_line(code: ResponseCode, *, tagged: bool = False) -> Mrkdwn:
    """One line per code for lists: code, description, what to do; `tagged` names the table."""
    stops = f" {STOPS_SALES}" if code.stops_sales else ""
    table = f"{TABLE_NAMES[code.table]} " if tagged else ""
    return md("{}`{}` {}{} — _{}_", table, code.code, code.description, stops, code.action.label)


def provenance_note(code: ResponseCode) -> str | None:
    """Where IAK's words on the card come from, when not from IAK's live table."""
    if code.source is Provenance.SEED:
        return None
    if code.table is Table.POSTPAID:
        return (
            "From IAK's postpaid response-code table (reference documentation); postpaid "
            "answers carry it as `response_code`."
        )
    return "From IAK's reference documentation (added after the published table)."


def homonym_note(homonym: ResponseCode) -> str:
    """`06` here is not `06` there: what the other line's code with this number means."""
    return (
        f"In IAK's {TABLE_NAMES[homonym.table].lower()} table, {homonym.code} means something "
        f"else: {homonym.description}"
    )


def remediation_blocks(code: ResponseCode) -> list[Block]:
    """The body of a remediation card: status, what to do, IAK's own solution (no header)."""
    badges = [status_badge(code.status)]
    if code.stops_sales:
        badges.append(f"{STOPS_SALES} *Stops all sales*")
    badges.append(f"Who acts: *{code.owner.label}*")
    blocks: list[Block] = [context("   ".join(badges))]
    if code.table is Table.HTTP:
        blocks.append(section(code.description))
    blocks.append(section(f"*What to do: {code.action.label}* ({code.owner.label})\n{code.advice}"))
    blocks.append(section(md("*IAK's solution*\n>{}", code.solution)))
    provenance = provenance_note(code)
    if provenance:
        blocks.append(context(provenance))
    return blocks


def remediation_card(
    code: ResponseCode,
    *,
    note: str | None = None,
    homonym: ResponseCode | None = None,
    shared_by: str | None = None,
    shareable: bool = True,
) -> Message:
    """The card for one response code, with link buttons and (unless shared) a Share button.

    `homonym` is the other line's code with the same number and another meaning (see
    `Registry.homonym`): the card says what that one means, for whoever looked up the wrong one.
    """
    blocks: list[Block] = [header(code.title)]
    if note:
        blocks.append(plain_section(note))
    if homonym is not None:
        blocks.append(context(f":warning: {homonym_note(homonym)} (`/iak code {homonym.key}`)."))
    blocks.extend(remediation_blocks(code))
    if code.code in PRODUCT_CODES and code.table is not Table.HTTP:
        pp = "pp " if code.table is Table.POSTPAID else ""
        blocks.append(
            context(f"See how IAK lists the product now: `/iak product {pp}<product code>`.")
        )
    elements = [
        link_button(link.title, link.url, f"link_{index}") for index, link in enumerate(code.links)
    ]
    if shareable and shared_by is None:
        # The key names the row in both tables ("17", "postpaid 11"): the click finds it again.
        elements.append(button("Share in channel", SHARE_ACTION, code.key))
    if elements:
        blocks.append(actions(*elements, block_id=f"card_{_slug(code)}"))
    if shared_by is not None and is_user_id(shared_by):
        blocks.append(context(md("Shared by {} · `/iak code {}`", mention(shared_by), code.key)))
    text = f"{code.title} ({code.status.value}). What to do: {code.action.label}. {code.advice}"
    if homonym is not None:
        text = f"{text} ({homonym_note(homonym)}.)"
    if note:
        text = f"{note} {text}"
    return message(text, blocks)


def _slug(code: ResponseCode) -> str:
    """The row's key as an identifier: `17`, `postpaid_11`."""
    return code.key.replace(" ", "_")


def codes_list(registry: Registry, line: Line = Line.PREPAID) -> Message:
    """One line's codes, grouped by status: the answer to `/iak codes [postpaid]`."""
    postpaid = line is Line.POSTPAID
    blocks: list[Block] = [
        header("IAK postpaid response codes" if postpaid else "IAK response codes")
    ]
    order = (Status.FAILED, Status.PENDING, Status.SUCCESS)
    groups = registry.by_status(line)
    for status in order:
        codes = groups.get(status, [])
        if not codes:
            continue
        title = f"{STATUS_EMOJI[status]} *{status.value}* ({len(codes)})"
        blocks.extend(_line_sections(title, [code_line(code) for code in codes]))
    if postpaid:
        hint = (
            "`/iak code pp <code>` for the full card · `/iak codes` for the prepaid codes · "
            f"{STOPS_SALES} stops all sales"
        )
    else:
        http_lines = [md("`{}` {}", code.code, code.description) for code in registry.http_rows()]
        blocks.extend(_line_sections("*HTTP status of IAK's answer*", http_lines))
        hint = (
            "`/iak code <code>` for the full card · `/iak code <words>` to search · "
            f"`/iak codes postpaid` for the postpaid codes · {STOPS_SALES} stops all sales"
        )
    blocks.append(context(hint))
    total = sum(len(codes) for codes in groups.values())
    kind = "IAK postpaid response codes" if postpaid else "IAK response codes"
    return message(f"{total} {kind}, grouped by status.", blocks)


def _line_sections(title: str, lines: Sequence[str]) -> list[Block]:
    """A titled list, split into as many sections as the 3,000-character limit needs."""
    out: list[Block] = []
    current = [as_mrkdwn(title)]
    size = len(current[0])
    for line in map(as_mrkdwn, lines):
        if size + 1 + len(line) > 2900:
            out.append(section(join(current)))
            current, size = [line], len(line)
        else:
            current.append(line)
            size += 1 + len(line)
    out.append(section(join(current)))
    return out


def search_results(result: Matches) -> Message:
    """Codes matching the words of `/iak code <words>`, best first, each with its table."""
    shown = result.codes[:MAX_SEARCH_LINES]
    blocks: list[Block] = [header(truncate(f"Codes matching “{result.query}”", 150))]
    if result.corrected:
        blocks.append(
            plain_section(f"Nothing matched “{result.query}”; showing “{result.corrected}”.")
        )
    lines: list[str] = [
        md("{} {}", STATUS_EMOJI[code.status], code_line(code, tagged=True)) for code in shown
    ]
    if len(result.codes) > len(shown):
        lines.append(f"_+{len(result.codes) - len(shown)} more: add words to narrow it down_")
    blocks.extend(_line_sections("Best match first:", lines))
    blocks.append(
        actions(
            *(
                button(truncate(code.title, 75), f"{SHOW_CARD_ACTION}_{_slug(code)}", code.key)
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
    return message(text, blocks)


def unknown_code(result: Unknown) -> Message:
    """Nothing matched: say so plainly and offer the closest known codes."""
    query = truncate(result.query, 100)
    line = f" {result.line.value}" if result.line else ""
    if result.suggestions:
        lead = f"“{query}” is not a known IAK{line} code."
    else:
        lead = f"Nothing in IAK's{line} response codes matches “{query}”."
    blocks: list[Block] = [plain_section(lead)]
    text = lead
    if result.suggestions:
        lines = join(code_line(code, tagged=True) for code in result.suggestions)
        blocks.append(section(md("*Closest known codes*\n{}", lines)))
        text += " Closest: " + ", ".join(code.key for code in result.suggestions) + "."
    blocks.append(
        context(
            "`/iak codes` lists every code (`/iak codes postpaid` the postpaid ones) · "
            "`/iak code <words>` searches their descriptions"
        )
    )
    return message(text, blocks)


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
    return message(text, blocks)
