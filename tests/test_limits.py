"""Limits: presets, TOML loading and validation (architecture §5). A bad limit set is refused as a whole."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from adapters.model.vitals import VITALS
from monitor.limits.model import (
    PRESETS,
    Limits,
    LimitsError,
    TechnicalLimits,
    VitalLimits,
    load_limits,
    load_preset,
    parse_limits,
)


def toml_file(tmp_path: Path, text: str, name: str = "limits.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- presets --


def test_iv_ketamine_preset_values() -> None:
    limits = load_preset("iv-ketamine")
    assert limits.preset == "iv-ketamine"
    assert limits.for_vital("sbp") == VitalLimits(critical_low=91, low=101, high=179, critical_high=219, rise=39)
    assert limits.for_vital("dbp") == VitalLimits(high=109, critical_high=119, rise=24)
    assert limits.for_vital("hr") == VitalLimits(critical_low=41, low=50, high=110, critical_high=130, delay_s=10)
    assert limits.for_vital("spo2") == VitalLimits(critical_low=92, low=94, delay_s=15)
    assert limits.for_vital("map") == VitalLimits()  # not configured: no limits
    assert limits.technical == TechnicalLimits(signal_loss_s=10, nibp_overdue_s=1020)
    assert limits.baseline == {}


def test_esketamine_preset_differs_only_in_nibp_overdue() -> None:
    iv, esk = load_preset("iv-ketamine"), load_preset("esketamine")
    assert esk.preset == "esketamine"
    assert esk.vitals == iv.vitals
    assert esk.technical.nibp_overdue_s == 1920


def test_news2_preset() -> None:
    news2 = load_preset("news2")
    assert set(news2.vitals) == {"sbp", "hr", "spo2", "rr"}
    assert news2.for_vital("sbp").high is None
    assert news2.for_vital("hr").low == 51
    assert news2.technical.nibp_overdue_s is None  # off unless set


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_and_is_ordered(name: str) -> None:
    limits = load_preset(name)
    assert limits.vitals
    for code, vl in limits.vitals.items():
        values = [v for v in (vl.critical_low, vl.low, vl.high, vl.critical_high) if v is not None]
        assert values == sorted(values) and len(set(values)) == len(values), code
        assert all(VITALS[code].plausible(v) for v in values)


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(LimitsError, match=r"unknown preset 'ketamine'.*iv-ketamine"):
        load_preset("ketamine")
    with pytest.raises(LimitsError, match="unknown preset"):
        parse_limits({"preset": "nope"})


def test_preset_must_be_a_string() -> None:
    with pytest.raises(LimitsError, match="preset must be a name"):
        parse_limits({"preset": 3})


def test_default_is_the_iv_ketamine_preset() -> None:
    assert load_limits(None) == load_preset("iv-ketamine")
    assert load_limits(None, default_preset="news2") == load_preset("news2")


# -- files --


def test_the_architecture_example_file(tmp_path: Path) -> None:
    path = toml_file(
        tmp_path,
        """
preset = "iv-ketamine"
[vitals.sbp]
high = 180
critical_high = 220
low = 90
critical_low = 80
rise = 40
[vitals.hr]
high = 110
critical_high = 130
low = 50
critical_low = 40
delay_s = 10
[technical]
signal_loss_s = 10
nibp_overdue_s = 1020
[baseline]
sbp = 125
""",
    )
    limits = load_limits(path)
    assert limits.preset == "iv-ketamine"
    assert limits.for_vital("sbp") == VitalLimits(critical_low=80, low=90, high=180, critical_high=220, rise=40)
    assert limits.for_vital("hr").critical_low == 40
    assert limits.for_vital("spo2") == load_preset("iv-ketamine").for_vital("spo2")  # untouched preset vital
    assert limits.baseline == {"sbp": 125.0}
    assert isinstance(limits.baseline["sbp"], float)
    assert limits.technical == TechnicalLimits(10, 1020)


def test_override_on_top_of_a_preset_keeps_the_rest(tmp_path: Path) -> None:
    limits = load_limits(toml_file(tmp_path, 'preset = "iv-ketamine"\n[vitals.sbp]\nhigh = 170\n'))
    preset = load_preset("iv-ketamine")
    assert limits.for_vital("sbp").high == 170
    assert limits.for_vital("sbp").critical_high == preset.for_vital("sbp").critical_high
    assert limits.for_vital("sbp").rise == preset.for_vital("sbp").rise
    assert {k: v for k, v in limits.vitals.items() if k != "sbp"} == {
        k: v for k, v in preset.vitals.items() if k != "sbp"
    }
    assert limits.technical == preset.technical


def test_override_of_technical_on_a_preset(tmp_path: Path) -> None:
    limits = load_limits(toml_file(tmp_path, 'preset = "esketamine"\n[technical]\nsignal_loss_s = 20\n'))
    assert limits.technical == TechnicalLimits(signal_loss_s=20, nibp_overdue_s=1920)


def test_override_is_validated_against_the_preset(tmp_path: Path) -> None:
    # high above the preset's critical_high (219) breaks the order once merged
    with pytest.raises(LimitsError, match=r"vitals\.sbp\.high \(230\) must be below vitals\.sbp\.critical_high "):
        load_limits(toml_file(tmp_path, 'preset = "iv-ketamine"\n[vitals.sbp]\nhigh = 230\n'))


def test_file_without_preset_has_only_what_it_says(tmp_path: Path) -> None:
    limits = load_limits(toml_file(tmp_path, "[vitals.hr]\nhigh = 120\n"))
    assert limits.preset is None
    assert set(limits.vitals) == {"hr"}
    assert limits.for_vital("hr") == VitalLimits(high=120)
    assert limits.technical == TechnicalLimits()  # signal loss on by default, NIBP overdue off
    assert limits.technical.signal_loss_s == 10 and limits.technical.nibp_overdue_s is None


def test_empty_file_is_an_empty_limit_set(tmp_path: Path) -> None:
    assert load_limits(toml_file(tmp_path, "")) == Limits()


def test_fixed_baseline(tmp_path: Path) -> None:
    limits = load_limits(toml_file(tmp_path, "[baseline]\nsbp = 125\ndbp = 80.5\nhr = 70\n"))
    assert limits.baseline == {"sbp": 125.0, "dbp": 80.5, "hr": 70.0}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LimitsError, match=r"cannot read limits file .*nope\.toml"):
        load_limits(tmp_path / "nope.toml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(LimitsError, match="cannot read limits file"):
        load_limits(tmp_path)


@pytest.mark.parametrize(
    "text",
    ["[vitals.sbp\nhigh = 1\n", "high = \n", "[vitals.sbp]\nhigh = 1\nhigh = 2\n", "x = [\n"],
)
def test_bad_toml(tmp_path: Path, text: str) -> None:
    path = toml_file(tmp_path, text)
    with pytest.raises(LimitsError, match="is not valid TOML") as info:
        load_limits(path)
    assert str(path) in str(info.value)


def test_limits_error_is_a_value_error() -> None:
    assert issubclass(LimitsError, ValueError)


# -- validation --


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[vitals.sbp]\nhigh = "180"\n', r"vitals\.sbp\.high must be a number, got '180'"),
        ("[vitals.sbp]\nhigh = true\n", r"vitals\.sbp\.high must be a number, got True"),
        ("[vitals.hr]\nlow = false\n", r"vitals\.hr\.low must be a number, got False"),
        ("[vitals.hr]\nhigh = [110]\n", r"vitals\.hr\.high must be a number"),
        ("[vitals.hr]\nhigh = inf\n", r"vitals\.hr\.high must be a number, got inf"),
        ("[vitals.hr]\nhigh = nan\n", r"vitals\.hr\.high must be a number, got nan"),
        ("[vitals.hr]\nhigh = 1979-05-27\n", r"vitals\.hr\.high must be a number"),
        ("[vitals.hr]\nhigh = {a = 1}\n", r"vitals\.hr\.high must be a number"),
        ('[vitals.sbp]\nrise = "40"\n', r"vitals\.sbp\.rise must be a number"),
        ("[vitals.hr]\ndelay_s = true\n", r"vitals\.hr\.delay_s must be a number"),
        ('[technical]\nsignal_loss_s = "10"\n', r"technical\.signal_loss_s must be a number"),
        ("[technical]\nnibp_overdue_s = true\n", r"technical\.nibp_overdue_s must be a number"),
        ('[baseline]\nsbp = "125"\n', r"baseline\.sbp must be a number"),
        ("[baseline]\nsbp = false\n", r"baseline\.sbp must be a number"),
    ],
)
def test_non_numbers_are_refused(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(LimitsError, match=message):
        load_limits(toml_file(tmp_path, toml))


@pytest.mark.parametrize(
    ("table", "first", "second"),
    [
        ({"low": 120, "high": 100}, "low (120)", "high (100)"),
        ({"low": 100, "high": 100}, "low (100)", "high (100)"),  # equal is not below
        ({"critical_low": 95, "low": 90}, "critical_low (95)", "low (90)"),
        ({"critical_low": 90, "low": 90}, "critical_low (90)", "low (90)"),
        ({"high": 180, "critical_high": 170}, "high (180)", "critical_high (170)"),
        ({"high": 180, "critical_high": 180}, "high (180)", "critical_high (180)"),
        ({"critical_low": 150, "high": 140}, "critical_low (150)", "high (140)"),  # gap in between
        ({"low": 200, "critical_high": 190}, "low (200)", "critical_high (190)"),
        ({"critical_low": 200, "critical_high": 100}, "critical_low (200)", "critical_high (100)"),
    ],
)
def test_order_violations_are_refused(table: dict[str, Any], first: str, second: str) -> None:
    """A file's message names the TOML keys in full."""
    with pytest.raises(LimitsError, match=re.escape(f"vitals.sbp.{first} must be below vitals.sbp.{second}")):
        parse_limits({"vitals": {"sbp": table}})


def test_a_valid_full_order_is_accepted() -> None:
    limits = parse_limits({"vitals": {"sbp": {"critical_low": 80, "low": 90, "high": 180, "critical_high": 220}}})
    assert limits.for_vital("sbp") == VitalLimits(80, 90, 180, 220)


@pytest.mark.parametrize(
    ("code", "key", "value"),
    [
        ("sbp", "high", 351),
        ("sbp", "critical_low", 9),
        ("dbp", "high", 301),
        ("map", "low", 4),
        ("hr", "critical_high", 351),
        ("hr", "low", -1),
        ("pr", "high", 400),
        ("spo2", "low", 101),
        ("spo2", "critical_low", -0.5),
        ("rr", "high", 151),
    ],
)
def test_thresholds_outside_the_plausible_range_are_refused(code: str, key: str, value: float) -> None:
    label = re.escape(VITALS[code].label)
    with pytest.raises(LimitsError, match=rf"vitals\.{code}\.{key} = .* is outside the plausible {label} range"):
        parse_limits({"vitals": {code: {key: value}}})


@pytest.mark.parametrize(("code", "key", "value"), [("sbp", "high", 350), ("sbp", "low", 10), ("spo2", "low", 100)])
def test_plausible_range_is_inclusive(code: str, key: str, value: float) -> None:
    assert getattr(parse_limits({"vitals": {code: {key: value}}}).for_vital(code), key) == value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"vigil": 1}, r"unknown key limits\.vigil"),
        ({"presets": "iv-ketamine"}, r"unknown key limits\.presets"),
        ({"vitals": {"temp": {"high": 38}}}, r"unknown key vitals\.temp"),
        ({"vitals": {"SBP": {"high": 180}}}, r"unknown key vitals\.SBP"),
        ({"vitals": {"sbp": {"hi": 180}}}, r"unknown key vitals\.sbp\.hi"),
        ({"vitals": {"hr": {"delay": 10}}}, r"unknown key vitals\.hr\.delay"),
        ({"technical": {"signal_loss": 10}}, r"unknown key technical\.signal_loss"),
        ({"baseline": {"temp": 37}}, r"unknown key baseline\.temp"),
    ],
)
def test_unknown_keys_are_named_at_every_level(data: dict[str, Any], message: str) -> None:
    with pytest.raises(LimitsError, match=message):
        parse_limits(data)


def test_unknown_key_message_lists_the_allowed_ones() -> None:
    with pytest.raises(LimitsError, match=r"allowed: critical_high, critical_low, delay_s, high, low, rise"):
        parse_limits({"vitals": {"sbp": {"hi": 180}}})


def test_unknown_key_in_a_file(tmp_path: Path) -> None:
    with pytest.raises(LimitsError, match=r"unknown key vitals\.hr\.hihg"):
        load_limits(toml_file(tmp_path, 'preset = "news2"\n[vitals.hr]\nhihg = 120\n'))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"vitals": 5}, r"vitals must be a table"),
        ({"vitals": {"sbp": 180}}, r"vitals\.sbp must be a table"),
        ({"technical": [1]}, r"technical must be a table"),
        ({"baseline": "sbp=1"}, r"baseline must be a table"),
    ],
)
def test_non_tables_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(LimitsError, match=message):
        parse_limits(data)


@pytest.mark.parametrize("rise", [0, -10, 341])
def test_bad_rise(rise: float) -> None:
    with pytest.raises(LimitsError, match=r"vitals\.sbp\.rise must be a positive number of mmHg"):
        parse_limits({"vitals": {"sbp": {"rise": rise}}})


@pytest.mark.parametrize("rise", [0.5, 40, 340])
def test_good_rise(rise: float) -> None:
    assert parse_limits({"vitals": {"sbp": {"rise": rise}}}).for_vital("sbp").rise == rise


@pytest.mark.parametrize("delay", [-1, 300.5, 1000])
def test_bad_delay(delay: float) -> None:
    with pytest.raises(LimitsError, match=r"vitals\.hr\.delay_s must be between 0 and 300 seconds"):
        parse_limits({"vitals": {"hr": {"delay_s": delay}}})


@pytest.mark.parametrize("delay", [0, 15, 300])
def test_good_delay(delay: float) -> None:
    assert parse_limits({"vitals": {"hr": {"delay_s": delay}}}).for_vital("hr").delay_s == delay


@pytest.mark.parametrize(("key", "value"), [("signal_loss_s", 0), ("signal_loss_s", -5), ("nibp_overdue_s", 86401)])
def test_bad_technical(key: str, value: float) -> None:
    with pytest.raises(LimitsError, match=rf"technical\.{key} must be between 0 and 86400 seconds"):
        parse_limits({"technical": {key: value}})


def test_bad_baseline_value() -> None:
    with pytest.raises(LimitsError, match=r"baseline\.spo2 = 101 is outside the plausible SpO2 range"):
        parse_limits({"baseline": {"spo2": 101}})


def test_a_refused_set_does_not_half_apply(tmp_path: Path) -> None:
    """A valid vital next to an invalid one: the whole file is refused, nothing is returned."""
    path = toml_file(tmp_path, "[vitals.hr]\nhigh = 120\n[vitals.sbp]\nlow = 150\nhigh = 120\n")
    with pytest.raises(LimitsError):
        load_limits(path)


def test_parse_does_not_mutate_its_base() -> None:
    base = load_preset("iv-ketamine")
    snapshot = base.to_dict()
    parse_limits({"vitals": {"sbp": {"high": 170}}, "baseline": {"sbp": 120}}, base)
    assert base.to_dict() == snapshot


def test_parse_over_an_explicit_base() -> None:
    base = load_preset("news2")
    limits = parse_limits({"vitals": {"hr": {"high": 115}}}, base)
    assert limits.for_vital("hr").high == 115
    assert limits.for_vital("hr").critical_high == 130
    assert limits.preset == "news2"


# -- to_dict round trip --


def test_to_dict_omits_unset_values() -> None:
    data = load_preset("news2").to_dict()
    assert data["preset"] == "news2"
    assert data["vitals"]["sbp"] == {"critical_low": 91.0, "low": 101.0, "critical_high": 219.0}
    assert data["technical"] == {"signal_loss_s": 10.0}
    assert data["baseline"] == {}
    json.dumps(data)  # the store keeps it as JSON


@pytest.mark.parametrize("name", PRESETS)
def test_preset_round_trips_through_parse_limits(name: str) -> None:
    limits = load_preset(name)
    assert parse_limits(limits.to_dict()) == limits
    assert parse_limits(json.loads(json.dumps(limits.to_dict()))) == limits


def test_overridden_preset_round_trips(tmp_path: Path) -> None:
    limits = load_limits(
        toml_file(tmp_path, 'preset = "iv-ketamine"\n[vitals.sbp]\nhigh = 170\n[baseline]\nsbp = 125\n')
    )
    assert parse_limits(limits.to_dict()) == limits


def test_limits_without_preset_round_trip(tmp_path: Path) -> None:
    """Regression: to_dict() used to emit "preset": None, which parse_limits refused."""
    limits = load_limits(toml_file(tmp_path, "[vitals.hr]\nhigh = 120\nlow = 45\n[baseline]\nhr = 70\n"))
    assert limits.preset is None
    assert parse_limits(limits.to_dict()) == limits
    assert parse_limits(json.loads(json.dumps(limits.to_dict()))) == limits
    assert parse_limits(Limits().to_dict()) == Limits()


def test_the_editor_names_fields_as_on_screen_and_refuses_text() -> None:
    """A file's user wrote the keys; an editor's user sees labels: the same error, worded for each."""
    from monitor.web.bed.limits_editor import limits_from_fields, screen_name

    with pytest.raises(LimitsError) as order:
        parse_limits({"vitals": {"sbp": {"high": 250, "critical_high": 219}}})
    assert str(order.value) == "vitals.sbp.high (250) must be below vitals.sbp.critical_high (219)"
    assert order.value.worded(screen_name) == "SYS high (250) must be below SYS critical high (219)"
    ids = [{"group": "sbp", "key": "high"}, {"group": "technical", "key": "signal_loss_s"}]
    assert limits_from_fields(ids, [" 150 ", ""], None).for_vital("sbp").high == 150  # blank: no such limit
    with pytest.raises(LimitsError) as text:
        limits_from_fields(ids, ["150", "abc"], None)
    assert text.value.keys == ("technical.signal_loss_s",)
    assert text.value.worded(screen_name) == ("Signal loss after (s): 'abc' is not a number (leave the field blank "
                                              "for no limit)")
