"""The project file, ``kpi.toml``: its schema, loading and validation.

The schema is a set of pydantic models with unknown keys forbidden, so a typo
is reported by name together with the closest valid key. Paths in the file
are relative to the project folder.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kpi_cli.errors import ConfigError

PROJECT_FILE = "kpi.toml"

Unit = Literal["count", "currency", "percent", "ratio", "score", "days"]
Grain = Literal["day", "week", "month", "quarter", "year"]
Direction = Literal["higher", "lower"]
Language = Literal["zh", "en"]
WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(_Strict):
    """A name in Chinese and English; either may be missing."""

    zh: str | None = None
    en: str | None = None

    def get(self, language: str) -> str:
        """Return the name in ``language``, falling back to the other one."""
        first, second = (self.zh, self.en) if language == "zh" else (self.en, self.zh)
        return first or second or ""


def _as_label(value: Any) -> Any:
    if isinstance(value, str):
        return {"zh": value, "en": value}
    return value


class ProjectSettings(_Strict):
    """The ``[project]`` table."""

    name: str = Field(description="Shown in reports and email subjects.")
    timezone: str = Field(
        "UTC", description="IANA zone; periods are calendar buckets in this zone."
    )
    currency: str = Field("CNY", description="ISO 4217 code used to format money.")
    language: Language = Field("zh", description="Language of reports: zh or en.")
    week_start: str = Field("monday", description="First day of a week.")
    stage: str | None = Field(None, description="The current business stage.")
    data_dir: str = Field(
        ".", description="Folder the source globs are relative to (--data overrides)."
    )
    grain: Grain = Field("week", description="Grain of a review without --period.")
    trend_periods: int = Field(12, ge=2, le=104, description="Trailing periods shown.")
    history: str = Field(
        ".kpi/history.duckdb", description="History database, relative to the project."
    )
    attainment_cap: float = Field(
        1.2,
        ge=1,
        le=10,
        description="Highest attainment a KPI counts for in a scorecard.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as "
                "'Asia/Shanghai' or 'America/Sao_Paulo'"
            ) from e
        return value

    @field_validator("week_start")
    @classmethod
    def _weekday(cls, value: str) -> str:
        if value.lower() not in WEEKDAYS:
            raise ValueError(f"expected one of {', '.join(WEEKDAYS)}, got {value!r}")
        return value.lower()

    @property
    def week_start_index(self) -> int:
        """Monday is 0, as in ``datetime.date.weekday``."""
        return WEEKDAYS.index(self.week_start)


class SourceSettings(_Strict):
    """A ``[sources.NAME]`` table: a named table read from export files."""

    path: str | list[str] = Field(description="File glob(s), relative to data_dir.")
    format: Literal["csv", "parquet", "json"] | None = Field(
        None, description="File format; taken from the extension when omitted."
    )
    encoding: str = Field("auto", description="Text encoding of CSV files, or auto.")
    delimiter: str | None = Field(None, description="CSV delimiter; sniffed if unset.")
    header: bool = Field(True, description="Whether CSV files start with a header.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Renames from export header to canonical name; several "
        "headers may map to one name (aliases across exports).",
    )
    types: dict[str, str] = Field(
        default_factory=dict, description="DuckDB type per canonical column."
    )
    time_column: str | None = Field(None, description="Column that dates each row.")
    time_format: str | list[str] | None = Field(
        None,
        description="strptime format of the time column (and other timestamp "
        "columns) when it cannot be recognised unambiguously; a list of formats "
        "is tried in order, value by value.",
    )
    formats: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="strptime format per timestamp column; a list of formats is "
        "tried in order, value by value.",
    )
    key: list[str] = Field(
        default_factory=list,
        description="Columns identifying a row; duplicates across files count once.",
    )
    sparse: bool = Field(
        False,
        description="Rows are not expected every day (spend entered now and "
        "then), so a last row before the period's end does not mark the source "
        "as incomplete.",
    )

    @property
    def paths(self) -> list[str]:
        """The globs as a list."""
        return [self.path] if isinstance(self.path, str) else list(self.path)


class TargetSettings(_Strict):
    """A ``[kpis.target]`` table."""

    value: float | None = Field(None, description="Target for one period of grain.")
    grain: Grain | None = Field(
        None, description="Grain the value is set for; the KPI's grain by default."
    )
    warn: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Share short of target still called at risk, not off track.",
    )
    due: dt.date | None = Field(None, description="When the target must be met.")
    by: dict[str, float] = Field(
        default_factory=dict,
        description="Per-value targets for the breakdown: amounts with value, "
        "growth rates (over each value's own baseline) with growth.",
    )
    growth: float | None = Field(
        None, description="Target as growth over a baseline: 0.15 is +15%."
    )
    baseline: Literal["year_ago", "previous", "trailing"] = Field(
        "year_ago", description="What growth is measured from."
    )
    trailing: int | None = Field(
        None, ge=1, le=104, description="Periods averaged when baseline = 'trailing'."
    )
    min: float | None = Field(None, description="Range target: lowest value on track.")
    max: float | None = Field(None, description="Range target: highest value on track.")
    effective: dt.date | None = Field(
        None, description="In [[kpis.targets]]: the first day this target applies."
    )
    pacing: Literal["linear", "last_year"] = Field(
        "linear",
        description="How an additive KPI's target is prorated in a partial period.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> TargetSettings:
        kinds = [
            name
            for name, present in (
                ("value", self.value is not None),
                ("growth", self.growth is not None),
                ("min/max", self.min is not None or self.max is not None),
            )
            if present
        ]
        if len(kinds) > 1:
            raise ValueError(
                f"set one of value, growth or min/max, not {' and '.join(kinds)}"
            )
        if self.baseline == "trailing" and self.trailing is None:
            raise ValueError("baseline = 'trailing' needs trailing = N (periods)")
        if self.trailing is not None and self.baseline != "trailing":
            raise ValueError("trailing = N is used only with baseline = 'trailing'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.by and kinds == ["min/max"]:
            raise ValueError("by (per-value targets) is not supported with min/max")
        return self

    @property
    def kind(self) -> Literal["value", "growth", "range"] | None:
        """Which kind of target this is; None when it sets no number."""
        if self.value is not None:
            return "value"
        if self.growth is not None:
            return "growth"
        if self.min is not None or self.max is not None:
            return "range"
        return None


class KpiSettings(_Strict):
    """One ``[[kpis]]`` entry."""

    id: str
    name: Label
    description: str | None = None
    owner: str | None = None
    objective: str | None = None
    stage: str | None = None
    unit: Unit = "count"
    direction: Direction = "higher"
    grain: Grain = "week"
    model: str
    time_column: str | None = Field(
        None, description="Column that places a row in a period; the source's one."
    )
    measure: str = Field(description="Aggregate SQL expression over the model.")
    filter: str | None = Field(None, description="SQL condition rows must meet.")
    dimension: str | None = Field(None, description="Column for the breakdown.")
    target: TargetSettings | None = None
    core: bool = False
    weight: float = Field(1.0, ge=0)
    decimals: int | None = Field(None, ge=0, le=6, description="Display precision.")
    additive: bool | None = Field(
        None,
        description="Whether values of parts add up to the whole (sums, counts); "
        "guessed from the unit and measure when unset.",
    )
    targets: list[TargetSettings] = Field(
        default_factory=list,
        description="Targets that change over time, each from its effective date.",
    )
    numerator: str | None = Field(
        None,
        description="For a ratio KPI: the aggregate SQL of its numerator, so "
        "'kpi explain' can split a change into mix and rate effects.",
    )
    denominator: str | None = Field(
        None, description="For a ratio KPI: the aggregate SQL of its denominator."
    )

    @model_validator(mode="after")
    def _one_schedule(self) -> KpiSettings:
        if self.target is not None and self.targets:
            raise ValueError("set either [kpis.target] or [[kpis.targets]], not both")
        if self.target is not None and self.target.effective is not None:
            raise ValueError(
                "target.effective: only entries of [[kpis.targets]] take an "
                "effective date"
            )
        dates = [t.effective for t in self.targets]
        if dates.count(None) > 1:
            raise ValueError(
                "targets: only one entry may omit effective (it applies from the "
                "start of the data)"
            )
        repeated = sorted({str(d) for d in dates if d and dates.count(d) > 1})
        if repeated:
            raise ValueError(f"targets: effective date {repeated[0]} appears twice")
        return self

    _name_label = field_validator("name", mode="before")(_as_label)

    @property
    def is_additive(self) -> bool:
        """Sums and counts add up across days and channels; ratios do not."""
        if self.additive is not None:
            return self.additive
        measure = self.measure.lower()
        ratio_like = "/" in measure or "avg(" in measure or "distinct" in measure
        return self.unit in ("count", "currency") and not ratio_like

    def title(self, language: str) -> str:
        """The KPI's name in ``language``."""
        return self.name.get(language) or self.id

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(
                f"{value!r} is not a valid id: use letters, digits and underscores"
            )
        return value


_PROMOTION = re.compile(r"^(\d{4}-)?\d{2}-\d{2}(\.\.(\d{4}-)?\d{2}-\d{2})?$")


class AnomalySettings(_Strict):
    """The ``[anomaly]`` table: when a value is unusual against its history."""

    enabled: bool = Field(True, description="Judge anomalies at all.")
    threshold: float = Field(
        3.5,
        gt=0,
        description="Robust z-score (absolute) from which a value is flagged.",
    )
    history: int = Field(
        12,
        ge=3,
        le=104,
        description="Periods before the review period in the baseline.",
    )
    min_history: int = Field(
        6, ge=3, le=104, description="Fewest usable baseline periods needed to judge."
    )
    mad_floor: float = Field(
        0.05,
        ge=0,
        description="The MAD is never taken below this share of the baseline median, "
        "so a flat series does not alarm on noise.",
    )
    min_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="With short history, a vanished breakdown value is flagged only "
        "if its previous value was at least this share of the KPI's previous total.",
    )
    change_pct: float = Field(
        0.3,
        gt=0,
        description="With short history, the change against the previous period "
        "(as a share of the previous value) from which a value is flagged.",
    )
    change_share: float = Field(
        0.05,
        ge=0,
        description="With short history, the absolute change must also be at least "
        "this share of the KPI's previous total.",
    )
    promotions: list[str] = Field(
        default_factory=list,
        description="Known promotion days left out of baselines (and not judged): "
        "'11-11', '06-10..06-18' every year, or '2026-11-11' and "
        "'2026-11-01..2026-11-12' once.",
    )

    @field_validator("promotions")
    @classmethod
    def _days(cls, values: list[str]) -> list[str]:
        for value in values:
            parts = value.split("..")
            if not _PROMOTION.match(value) or len({len(p) for p in parts}) != 1:
                raise ValueError(
                    f"promotion {value!r}: expected MM-DD, MM-DD..MM-DD, YYYY-MM-DD "
                    "or YYYY-MM-DD..YYYY-MM-DD"
                )
            for part in parts:
                try:
                    dt.date.fromisoformat(part if len(part) == 10 else "2024-" + part)
                except ValueError as e:
                    raise ValueError(f"promotion {value!r}: {e}") from e
        return values


class SegmentSettings(_Strict):
    """The ``[segments]`` table: member segments by recency, frequency, money."""

    model: str = Field("orders", description="Model or source holding the orders.")
    customer: str = Field("customer_id", description="Column identifying a person.")
    time: str = Field("paid_at", description="Column with the order's (payment) time.")
    amount: str = Field("amount", description="Column with the order's paid amount.")
    filter: str | None = Field(
        "is_paid", description="SQL condition an order must meet to count."
    )
    dormant_days: int = Field(
        90,
        ge=1,
        description="Days without a counted order after which a member is dormant.",
    )
    window_days: int = Field(
        365, ge=1, description="Days over which orders and amount are summed."
    )
    high_value_orders: int = Field(
        3, ge=1, description="Orders in the window that make a member high value."
    )
    high_value_amount: float = Field(
        1000, ge=0, description="Amount in the window that makes a member high value."
    )


class EmailSettings(_Strict):
    """The ``[email]`` table: how ``--email-to`` sends a review.

    Each key may be overridden by an environment variable (KPI_SMTP_HOST,
    KPI_SMTP_PORT, KPI_SMTP_TLS, KPI_SMTP_USER, KPI_SMTP_FROM); the password
    is read only from KPI_SMTP_PASSWORD, never from the project file.
    """

    host: str | None = Field(None, description="SMTP server host name.")
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="SMTP port; 587 for starttls, 465 for ssl, 25 for none.",
    )
    tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls, ssl (implicit TLS) or none."
    )
    user: str | None = Field(None, description="Login name, if the server needs one.")
    sender: str | None = Field(None, description="From address.")
    subject: str | None = Field(
        None,
        description="Subject; may use {project}, {period} (2026-W48), "
        "{period_name} (Week 48 2026), {off_track}, {at_risk}. Unset: "
        "'{project} KPI review · {period_name}', or in Chinese "
        "'{project} KPI 周报 · {period_name}' (月报, 季报 … by grain).",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "the SMTP password is read only from the environment variable "
                "KPI_SMTP_PASSWORD; remove 'password' from the project file"
            )
        return data


class HealthSettings(_Strict):
    """The ``[health]`` table: when a source's volume for a period is suspect."""

    volume_periods: int = Field(
        8,
        ge=3,
        le=104,
        description="Trailing periods of the same grain whose median row count "
        "a period's rows are compared with.",
    )
    volume_drop: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Rows below this share of the trailing median flag the source "
        "and make its KPIs incomplete_data; 0 turns the check off.",
    )


class Settings(_Strict):
    """The whole project file."""

    project: ProjectSettings
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    kpis: list[KpiSettings] = Field(default_factory=list)
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings)
    segments: SegmentSettings = Field(default_factory=SegmentSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        seen: set[str] = set()
        for kpi in self.kpis:
            if kpi.id in seen:
                raise ValueError(f"KPI id {kpi.id!r} is declared twice")
            seen.add(kpi.id)
        for name in self.sources:
            if not _IDENT.match(name):
                raise ValueError(
                    f"source name {name!r} is not a valid SQL name: "
                    "use letters, digits and underscores"
                )
        return self


def find_project_file(start: Path) -> Path:
    """Return ``kpi.toml`` in ``start`` (a folder or the file itself).

    Raises:
        ConfigError: when there is no project file there.
    """
    candidate = start / PROJECT_FILE if start.is_dir() else start
    if not candidate.is_file():
        raise ConfigError(
            f"no {PROJECT_FILE} in {start}: run 'kpi init DIR' to create a project, "
            "or pass --project DIR"
        )

    return candidate


def load_settings(path: Path) -> Settings:
    """Read and validate a project file.

    Raises:
        ConfigError: naming the file, the KPI and the field that is wrong.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason})") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e

    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_describe(path, raw, e)) from e


def _describe(path: Path, raw: dict[str, Any], error: ValidationError) -> str:
    lines = [f"{path}: {error.error_count()} problem(s)"]
    for item in error.errors():
        lines.append("  " + _describe_one(raw, item))

    return "\n".join(lines)


# Errors whose message does not already show the offending value.
_SHOWS_INPUT = {
    "literal_error",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
}


def _describe_one(raw: dict[str, Any], item: Any) -> str:
    loc = list(item["loc"])
    where = _location(raw, loc)
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        parent_model = _model_at(loc[:-1])
        message = f"unknown key {loc[-1]!r}"
        if parent_model is not None:
            close = difflib.get_close_matches(
                str(loc[-1]), list(parent_model.model_fields), n=1
            )
            if close:
                message += f"; did you mean {close[0]!r}?"
    elif item["type"] == "missing":
        message = "required field is missing"
    elif item["type"] in _SHOWS_INPUT:
        message += f", got {item.get('input')!r}"

    return f"{where}: {message}"


def _location(raw: dict[str, Any], loc: list[Any]) -> str:
    """Render a pydantic location; KPIs are named by their id, not their index."""
    parts: list[str] = []
    node: Any = raw
    for step in loc:
        if isinstance(step, int) and parts and parts[-1] == "kpis":
            kpi_id = node[step].get("id") if isinstance(node, list) else None
            parts[-1] = f"kpis[{kpi_id or step}]"
        elif isinstance(step, int) and parts:
            parts[-1] = f"{parts[-1]}[{step}]"
        else:
            parts.append(str(step))
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            node = None

    return ".".join(parts) if parts else "(top level)"


def _model_at(loc: list[Any]) -> type[BaseModel] | None:
    """Return the schema model a location points into, for name suggestions."""
    model: type[BaseModel] | None = Settings
    skip_key = False
    for step in loc:
        if model is None:
            return None
        if skip_key:
            skip_key = False
            continue
        if isinstance(step, int):
            continue
        annotation = model.model_fields.get(str(step))
        if annotation is None:
            return None
        model, skip_key = _inner_model(annotation.annotation)

    return model


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    origin = getattr(annotation, "__origin__", None)
    args = getattr(annotation, "__args__", ())
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin is dict and len(args) == 2:
        inner, _ = _inner_model(args[1])
        return inner, True
    for arg in args:
        inner, skip = _inner_model(arg)
        if inner is not None:
            return inner, skip

    return None, False


__all__ = [
    "Direction",
    "EmailSettings",
    "Grain",
    "HealthSettings",
    "KpiSettings",
    "Label",
    "PROJECT_FILE",
    "ProjectSettings",
    "Settings",
    "SourceSettings",
    "TargetSettings",
    "Unit",
    "find_project_file",
    "load_settings",
]
