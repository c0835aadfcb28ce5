"""The protocol registry: what every protocol listed in it must do, so a new protocol is checked by being
listed. Each protocol's own behaviour is tested in its own module (test_ge_s5.py, test_hl7_mllp.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.model.reading import Reading
from adapters.protocols import PROTOCOLS
from adapters.protocols.base import Item
from adapters.simulation import load_scenario
from monitor.cli.main import build_parser


def triples(items: list[Item]) -> list[tuple]:
    return sorted((r.time, r.vital, r.value) for r in items if isinstance(r, Reading))


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_the_registered_emulator_and_decoder_agree_on_a_whole_scenario(name: str) -> None:
    spec = PROTOCOLS[name]
    scenario = load_scenario("hypertensive")
    end = scenario.end + timedelta(hours=1)
    assert bool(spec.emulator(scenario).frames_due(end)) != spec.polled  # a polled device waits to be asked
    device = spec.emulator(scenario)
    # Every option at its default, except a request period at its shortest: then every reading is sent.
    decoder = spec.new_decoder(name, {spec.request_period: 1} if spec.request_period else {})
    decoder.start()
    t = scenario.start
    device.receive(decoder.pending_output(), t)
    items: list[Item] = []
    while True:  # a conversation: what the device sends, what the decoder answers, at each time something is due
        items += decoder.feed(b"".join(device.frames_due(t)))
        device.receive(decoder.pending_output(), t)
        due = device.next_due()
        if due is None or due > end:
            break
        t = max(t, due)
    assert triples(items) == triples(scenario.readings)
    assert all(r.source == name for r in items if isinstance(r, Reading))


@pytest.mark.parametrize("command", ["monitor", "acquire", "record", "decode"])
def test_each_protocols_own_options_are_offered_in_a_group_of_its_name(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    help_text = capsys.readouterr().out
    for name, spec in PROTOCOLS.items():
        offered = [o for o in spec.options if o.decoding or command != "decode"]
        assert (f"\n{name} options:\n" in help_text) == bool(offered), name
        for option in spec.options:
            shared = any(option.name == o.name for other in PROTOCOLS.values() if other is not spec
                         for o in other.options if o.decoding or command != "decode")
            assert (f"--{option.name} {option.metavar}" in help_text) == (option in offered or shared), option.name
