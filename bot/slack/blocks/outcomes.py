"""How outcomes, IAK's status column and the sources of a transaction's news are shown: the
one presentation vocabulary every card, list, alert and digest uses. Words are marked
for translation here and translated where shown."""

from __future__ import annotations

from bot.i18n import N_
from bot.iak.models import PostpaidOutcome
from bot.outcomes import Outcome, Source
from bot.registry import Status

OUTCOME_EMOJI = {
    Outcome.SUCCESS: ":white_check_mark:",
    Outcome.FAILED: ":x:",
    Outcome.PENDING: ":hourglass_flowing_sand:",
    Outcome.UNKNOWN: ":grey_question:",
}
# A count's label, in lists and the digest: "✅ Success 22".
OUTCOME_NAMES = {
    Outcome.SUCCESS: N_("Success"),
    Outcome.FAILED: N_("Failed"),
    Outcome.PENDING: N_("Pending"),
    Outcome.UNKNOWN: N_("Unknown"),
}
# Each outcome with its emoji and name, in the order lists show them.
OUTCOME_LINES = tuple(
    (outcome, OUTCOME_EMOJI[outcome], OUTCOME_NAMES[outcome]) for outcome in Outcome
)
# Inside a sentence or a count: "3 success, 1 failed", "IAK's callback said failed".
OUTCOME_COUNTED = {
    Outcome.SUCCESS: N_("success"),
    Outcome.FAILED: N_("failed"),
    Outcome.PENDING: N_("pending"),
    Outcome.UNKNOWN: N_("unknown"),
}
# A status card's badge, (emoji, words): an unknown outcome says what to do with it.
OUTCOME_BADGES = {
    Outcome.SUCCESS: (OUTCOME_EMOJI[Outcome.SUCCESS], N_("Success")),
    Outcome.FAILED: (OUTCOME_EMOJI[Outcome.FAILED], N_("Failed")),
    Outcome.PENDING: (OUTCOME_EMOJI[Outcome.PENDING], N_("Pending")),
    Outcome.UNKNOWN: (OUTCOME_EMOJI[Outcome.UNKNOWN], N_("Unknown: treat as pending")),
}
# A status card's history and its text fallback.
OUTCOME_WORDS = {
    Outcome.SUCCESS: N_("Success"),
    Outcome.FAILED: N_("Failed"),
    Outcome.PENDING: N_("Pending"),
    Outcome.UNKNOWN: N_("Unknown (treat as pending)"),
}
POSTPAID_OUTCOME_BADGES = {
    PostpaidOutcome.SUCCESS: (OUTCOME_EMOJI[Outcome.SUCCESS], N_("Paid")),
    PostpaidOutcome.FAILED: (OUTCOME_EMOJI[Outcome.FAILED], N_("Payment failed")),
    PostpaidOutcome.PENDING: (OUTCOME_EMOJI[Outcome.PENDING], N_("In process")),
    PostpaidOutcome.NOT_PAID: (":white_circle:", N_("Not paid: IAK never received the payment")),
    PostpaidOutcome.UNKNOWN: (OUTCOME_EMOJI[Outcome.UNKNOWN], N_("Unknown: treat as pending")),
}
POSTPAID_OUTCOME_WORDS = {
    PostpaidOutcome.SUCCESS: N_("Paid"),
    PostpaidOutcome.FAILED: N_("Payment failed"),
    PostpaidOutcome.PENDING: N_("In process"),
    PostpaidOutcome.NOT_PAID: N_("Not paid (IAK never received the payment)"),
    PostpaidOutcome.UNKNOWN: N_("Unknown (treat as pending)"),
}

# Where the bot heard it: a status card's history line ("IAK callback · Success").
SOURCE_WORDS = {
    Source.CALLBACK: N_("IAK callback"),
    Source.INGEST: N_("merchant backend"),
    Source.STATUS_CHECK: N_("status check"),
}
# The same inside a sentence: "IAK's callback said success at 14:05".
SOURCE_PHRASES = {
    Source.CALLBACK: N_("IAK's callback"),
    Source.INGEST: N_("the backend"),
    Source.STATUS_CHECK: N_("IAK's status check"),
}

# IAK's status column of a response code (the English is IAK's own).
STATUS_EMOJI = {
    Status.SUCCESS: OUTCOME_EMOJI[Outcome.SUCCESS],
    Status.FAILED: OUTCOME_EMOJI[Outcome.FAILED],
    Status.PENDING: OUTCOME_EMOJI[Outcome.PENDING],
    Status.SUCCESS_OR_FAILED: OUTCOME_EMOJI[Outcome.UNKNOWN],
}
STATUS_WORDS = {
    Status.SUCCESS: N_("Success"),
    Status.FAILED: N_("Failed"),
    Status.PENDING: N_("Pending"),
    Status.SUCCESS_OR_FAILED: N_("Success/Failed"),
}
