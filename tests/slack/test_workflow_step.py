"""The workflow step's inputs as Slack sends them: what runs, and what fails the step."""

from __future__ import annotations

import pytest

from bot.i18n import language
from bot.outcomes import Line
from bot.slack.workflow_step import BadInput, NotARefId, StepInput, definition, read_inputs


@pytest.mark.parametrize(
    ("inputs", "step"),
    [
        ({"ref_id": "ORD-77"}, StepInput("ORD-77", Line.PREPAID)),
        ({"ref_id": "  ORD-77\n", "line": ""}, StepInput("ORD-77", Line.PREPAID)),
        ({"ref_id": "ORD-77", "line": None}, StepInput("ORD-77", Line.PREPAID)),
        ({"ref_id": "bill-9", "line": " POSTPAID "}, StepInput("bill-9", Line.POSTPAID)),
        ({"ref_id": 1700000123, "line": "prepaid"}, StepInput("1700000123", Line.PREPAID)),
        ({"ref_id": "x" * 100}, StepInput("x" * 100, Line.PREPAID)),
    ],
)
def test_inputs_that_run(inputs: dict[str, object], step: StepInput) -> None:
    assert read_inputs(inputs) == step


@pytest.mark.parametrize("ref_id", ["ORD 77", "ORD\t77", "ORD-\x1b[31m77"])
def test_a_ref_id_no_sale_can_have_is_not_a_bad_input(ref_id: str) -> None:
    assert read_inputs({"ref_id": ref_id}) == NotARefId(ref_id)


@pytest.mark.parametrize(
    "inputs",
    [
        {},
        {"ref_id": ""},
        {"ref_id": None},
        {"ref_id": "x" * 101},
        {"ref_id": ["ORD-77"]},
        {"ref_id": "ORD-77", "line": "pp"},
        {"ref_id": "ORD-77", "line": "game"},
    ],
)
def test_bad_inputs_fail_the_step_saying_what_to_fix(inputs: dict[str, object]) -> None:
    with language("id"):
        read = read_inputs(inputs)
    assert isinstance(read, BadInput)
    assert read.reason and "\n" not in read.reason


def test_the_declared_inputs_are_the_ones_read() -> None:
    declared = definition()["input_parameters"]
    assert set(declared) == {"ref_id", "line"}
