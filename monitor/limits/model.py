"""Clinician alarm limits: the model, TOML loading, presets and validation (docs/limits.md).

A limit set is refused as a whole with a message naming the offending key, so an invalid file or
edit never half-applies. Thresholds follow docs/limits.md's inclusive convention: an alarm needs value > high,
value < low, and so on; a value equal to a limit is in range.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from adapters.model.vitals import VITALS


class LimitsError(ValueError):
    """A limit set that must not be applied; the message says which key and why.

    `keys` are the dotted names concerned (`vitals.sbp.high`), so an editor can mark those fields. With keys,
    `message` is a format string naming them `{0}`, `{1}` and taking `values`; without, plain text. `str()` names
    the keys as a TOML file does (its user wrote them); `worded` names them as a screen labels its fields.
    """

    def __init__(self, message: str, keys: tuple[str, ...] = (), **values: Any) -> None:
        self.template = message
        self.keys = keys
        self.values = values
        super().__init__(self.worded(str))

    def worded(self, name: Callable[[str], str]) -> str:
        """The message with each key named by `name`."""
        return self.template.format(*map(name, self.keys), **self.values) if self.keys else self.template


THRESHOLD_KEYS = ("critical_low", "low", "high", "critical_high")


@dataclass(frozen=True)
class VitalLimits:
    critical_low: float | None = None
    low: float | None = None
    high: float | None = None
    critical_high: float | None = None
    rise: float | None = None
    delay_s: float | None = None

    @cached_property
    def in_range(self) -> tuple[float, float]:
        """The lowest and highest value no threshold breaks (ranges are inclusive)."""
        lows = [x for x in (self.critical_low, self.low) if x is not None]
        highs = [x for x in (self.high, self.critical_high) if x is not None]
        return max(lows, default=-math.inf), min(highs, default=math.inf)


NO_LIMITS = VitalLimits()  # shared: the engine asks for a vital's limits at every reading


@dataclass(frozen=True)
class TechnicalLimits:
    signal_loss_s: float = 10.0
    nibp_overdue_s: float | None = None


@dataclass(frozen=True)
class Limits:
    preset: str | None = None
    vitals: dict[str, VitalLimits] = field(default_factory=dict)
    technical: TechnicalLimits = field(default_factory=TechnicalLimits)
    baseline: dict[str, float] = field(default_factory=dict)

    def for_vital(self, vital: str) -> VitalLimits:
        return self.vitals.get(vital, NO_LIMITS)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/TOML-able), omitting unset values."""
        data: dict[str, Any] = {} if self.preset is None else {"preset": self.preset}
        return data | {
            "vitals": {
                code: {k: v for k, v in asdict(lim).items() if v is not None} for code, lim in self.vitals.items()
            },
            "technical": {k: v for k, v in asdict(self.technical).items() if v is not None},
            "baseline": dict(self.baseline),
        }


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LimitsError("{0} must be a number, got {value!r}", (where,), value=value)
    return float(value)


def _check_keys(where: str, table: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise LimitsError(f"{where} must be a table, got {table!r}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise LimitsError(f"unknown key {where}.{unknown[0]} (allowed: {', '.join(sorted(allowed))})")
    return table


def _vital_limits(code: str, table: dict[str, Any], base: VitalLimits) -> VitalLimits:
    where = f"vitals.{code}"
    _check_keys(where, table, {f.name for f in fields(VitalLimits)})
    values = {key: _number(f"{where}.{key}", value) for key, value in table.items()}
    merged = replace(base, **values)
    vital = VITALS[code]
    for key in THRESHOLD_KEYS:
        v = getattr(merged, key)
        if v is not None and not vital.plausible(v):
            raise LimitsError("{0} = {v:g} is outside the plausible {vital} range {low:g}–{high:g} {unit}",
                              (f"{where}.{key}",), v=v, vital=vital.label, low=vital.low, high=vital.high,
                              unit=vital.unit)
    ordered = [(key, getattr(merged, key)) for key in THRESHOLD_KEYS if getattr(merged, key) is not None]
    for (k1, v1), (k2, v2) in pairwise(ordered):
        if not v1 < v2:
            raise LimitsError("{0} ({v1:g}) must be below {1} ({v2:g})", (f"{where}.{k1}", f"{where}.{k2}"),
                              v1=v1, v2=v2)
    if merged.rise is not None and not 0 < merged.rise <= vital.high - vital.low:
        raise LimitsError("{0} must be a positive number of {unit}, got {v:g}", (f"{where}.rise",), unit=vital.unit,
                          v=merged.rise)
    if merged.delay_s is not None and not 0 <= merged.delay_s <= 300:
        raise LimitsError("{0} must be between 0 and 300 seconds, got {v:g}", (f"{where}.delay_s",), v=merged.delay_s)
    return merged


def parse_limits(data: dict[str, Any], base: Limits | None = None) -> Limits:
    """Validate TOML-shaped data over `base` (or over its `preset`); raises LimitsError."""
    _check_keys("limits", data, {"preset", "vitals", "technical", "baseline"})
    if "preset" in data:
        if not isinstance(data["preset"], str):
            raise LimitsError(f"preset must be a name, got {data['preset']!r}")
        base = load_preset(data["preset"])
    base = base or Limits()
    vitals = dict(base.vitals)
    for code, table in _check_keys("vitals", data.get("vitals", {}), set(VITALS)).items():
        vitals[code] = _vital_limits(code, table, base.for_vital(code))
    technical = base.technical
    tech_table = _check_keys("technical", data.get("technical", {}), {f.name for f in fields(TechnicalLimits)})
    for key, value in tech_table.items():
        seconds = _number(f"technical.{key}", value)
        if not 0 < seconds <= 86400:
            raise LimitsError("{0} must be between 0 and 86400 seconds, got {v:g}", (f"technical.{key}",), v=seconds)
        technical = replace(technical, **{key: seconds})
    baseline = dict(base.baseline)
    for code, value in _check_keys("baseline", data.get("baseline", {}), set(VITALS)).items():
        v = _number(f"baseline.{code}", value)
        if not VITALS[code].plausible(v):
            raise LimitsError("{0} = {v:g} is outside the plausible {vital} range", (f"baseline.{code}",), v=v,
                              vital=VITALS[code].label)
        baseline[code] = v
    return Limits(preset=data.get("preset", base.preset), vitals=vitals, technical=technical, baseline=baseline)


def limits_from_stored(data: dict[str, Any]) -> Limits:
    """Limits saved with `Limits.to_dict`: exactly those values; the preset is only their label.

    (Parsing them with `parse_limits` would start from the preset and bring back values a clinician
    had deliberately cleared.)
    """
    exact = parse_limits({key: value for key, value in data.items() if key != "preset"})
    return replace(exact, preset=data.get("preset"))


PRESETS = ("iv-ketamine", "esketamine", "news2")
DEFAULT_PRESET = "iv-ketamine"  # for a session type that names none


def load_preset(name: str) -> Limits:
    if name not in PRESETS:
        raise LimitsError(f"unknown preset {name!r} (choose one of: {', '.join(PRESETS)})")
    text = resources.files("monitor.limits.presets").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data.pop("preset", None)
    return replace(parse_limits(data, Limits()), preset=name)


def load_limits(path: Path | None, default_preset: str = "iv-ketamine") -> Limits:
    """Limits from a TOML file, or the default preset when no file is given."""
    if path is None:
        return load_preset(default_preset)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LimitsError(f"cannot read limits file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LimitsError(f"{path} is not valid TOML: {exc}") from exc
    return parse_limits(data)
