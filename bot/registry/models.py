"""What the registry knows about one IAK response code."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Table(StrEnum):
    """Which of IAK's three tables a row comes from."""

    HTTP = "http"
    PREPAID = "prepaid"
    GAME = "game"


class Provenance(StrEnum):
    """Where a row's words (description, status, solution) were copied from."""

    # IAK's live, published response-code page (the seed table): the default.
    SEED = "seed"
    # IAK's reference documentation on GitHub: rows the live page lacks (118).
    REFERENCE = "reference"


class Status(StrEnum):
    """What a code says about the transaction, as IAK's table puts it."""

    SUCCESS = "Success"
    FAILED = "Failed"
    PENDING = "Pending"
    # HTTP 200 alone: the rc in the body decides.
    SUCCESS_OR_FAILED = "Success/Failed"


class Action(StrEnum):
    """What ops should do about a code."""

    NONE = "none"
    WAIT = "wait"
    RETRY_NOW = "retry_now"
    RETRY_LATER = "retry_later"
    FIX_INPUT = "fix_input"
    TOP_UP_DEPOSIT = "top_up_deposit"
    FIX_CONFIGURATION = "fix_configuration"
    CONTACT_IAK = "contact_iak"

    @property
    def label(self) -> str:
        """Human wording of the action for cards."""
        return _ACTION_LABELS[self]


_ACTION_LABELS = {
    Action.NONE: "Nothing to do",
    Action.WAIT: "Wait",
    Action.RETRY_NOW: "Retry now",
    Action.RETRY_LATER: "Retry later",
    Action.FIX_INPUT: "Fix the input",
    Action.TOP_UP_DEPOSIT: "Top up the deposit",
    Action.FIX_CONFIGURATION: "Fix our configuration",
    Action.CONTACT_IAK: "Contact IAK",
}


class Owner(StrEnum):
    """Who has to act."""

    US = "us"
    CUSTOMER = "customer"
    IAK = "IAK"

    @property
    def label(self) -> str:
        """Human wording of the owner for cards."""
        return {Owner.US: "us", Owner.CUSTOMER: "the customer", Owner.IAK: "IAK"}[self]


class Link(BaseModel):
    """An IAK page a solution names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=60)
    url: str = Field(pattern=r"^https://\S+$", max_length=300)


class ResponseCode(BaseModel):
    """One row of IAK's response-code tables plus our remediation judgement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^(\d{2,3}|OTHER)$")
    http_reason: str | None = None
    table: Table
    source: Provenance = Provenance.SEED
    description: str = Field(min_length=1)
    status: Status
    solution: str = Field(min_length=1)
    action: Action
    owner: Owner
    stops_sales: bool
    advice: str = Field(min_length=1, max_length=400)
    links: tuple[Link, ...] = ()

    @field_validator("description", "solution", "advice")
    @classmethod
    def _single_spaced(cls, value: str) -> str:
        return " ".join(value.split())

    @model_validator(mode="after")
    def _http_rows_have_reasons(self) -> ResponseCode:
        if self.table is Table.HTTP and self.code != "OTHER" and not self.http_reason:
            raise ValueError(f"HTTP row {self.code} needs its http_reason")
        return self

    @property
    def label(self) -> str:
        """The code as IAK's table spells it ("17", "400 - Bad Request", "OTHER")."""
        return f"{self.code} - {self.http_reason}" if self.http_reason else self.code

    @property
    def title(self) -> str:
        """Short heading: "17 · INSUFFICIENT DEPOSIT", "HTTP 400 · Bad Request"."""
        if self.table is Table.HTTP:
            if self.code == "OTHER":
                return "HTTP OTHER · any status but 200 and 400"
            return f"HTTP {self.code} · {self.http_reason}"
        return f"{self.code} · {self.description}"


class RegistryFile(BaseModel):
    """The registry's data file."""

    model_config = ConfigDict(extra="forbid")

    codes: tuple[ResponseCode, ...]

    @model_validator(mode="after")
    def _codes_unique(self) -> RegistryFile:
        seen: set[str] = set()
        for entry in self.codes:
            if entry.code in seen:
                raise ValueError(f"code {entry.code} appears twice")
            seen.add(entry.code)
        return self
