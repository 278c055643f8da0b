"""The deposit card (`/iak balance`)."""

from __future__ import annotations

from bot.i18n import _
from bot.iak.client import (
    BalanceCheck,
    IakEndpoint,
)
from bot.registry import Registry
from bot.slack.blocks.cards import (
    STOPS_SALES,
)
from bot.slack.blocks.iak_answers import (
    asked,
    headline,
    problem_blocks,
    refusal_code,
    remediation_section,
)
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    context,
    header,
    link_button,
    message,
    plain_section,
    rupiah,
    section,
)


def checking_balance_message(endpoint: IakEndpoint) -> Message:
    """The ack of `/iak balance`."""
    text = _("Asking IAK ({environment}) for the deposit balance…").format(
        environment=endpoint.environment
    )
    return message(text, [plain_section(text)])


def balance_card(
    check: BalanceCheck, registry: Registry, *, low_threshold: int | None = None
) -> Message:
    """IAK's deposit balance; below `low_threshold` (LOW_BALANCE_THRESHOLD) it says so first."""
    endpoint = check.answer.endpoint
    blocks: list[Block] = [
        header(_("IAK deposit balance ({environment})").format(environment=endpoint.environment))
    ]
    balance = check.balance
    low = balance is not None and low_threshold is not None and balance < low_threshold
    deposit = registry.rc("17")
    if balance is not None:
        if low:
            blocks.append(
                section(
                    f"{STOPS_SALES} "
                    + _(
                        "*Low deposit: {balance} is below the threshold of {threshold}*\n"
                        "Top up the IAK deposit now: once it runs out, every sale fails with "
                        "rc 17 (INSUFFICIENT DEPOSIT)."
                    ).format(balance=rupiah(balance), threshold=rupiah(low_threshold))
                )
            )
        blocks.append(
            section(
                ":moneybag: "
                + _("*{balance}* left in the IAK deposit").format(balance=rupiah(balance))
            )
        )
        if low and deposit is not None and deposit.links:
            blocks.append(
                actions(
                    *(
                        link_button(link.label, link.url, f"link_{index}")
                        for index, link in enumerate(deposit.links)
                    ),
                    block_id="deposit_links",
                )
            )
        elif low_threshold is not None:
            blocks.append(
                context(
                    _("Low-balance threshold: {threshold}").format(threshold=rupiah(low_threshold))
                )
            )
    problem = problem_blocks(check.answer, registry, unknown_outcome=None, customer_id=None)
    code = None
    if problem:
        blocks.append(section(problem))
        code = refusal_code(check.answer, registry)
        if code is not None:
            blocks.extend(remediation_section(code))
            links = [
                link_button(link.label, link.url, f"link_{index}")
                for index, link in enumerate(code.links)
            ]
            if links:
                blocks.append(actions(*links, block_id="balance_links"))
    blocks.append(context(asked(check.answer)))
    if balance is None:
        text = _("IAK deposit balance ({environment}): unknown. {problem}.").format(
            environment=endpoint.environment, problem=headline(check.answer)
        )
    elif low:
        text = _("LOW DEPOSIT: {balance} is below {threshold}. Top up the IAK deposit now.").format(
            balance=rupiah(balance), threshold=rupiah(low_threshold)
        )
    else:
        text = _("IAK deposit balance ({environment}): {balance}.").format(
            environment=endpoint.environment, balance=rupiah(balance)
        )
    return message(text, blocks)
