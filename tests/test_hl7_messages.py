"""HL7 messages as the network listener reads them, sans I/O: who sent them (what a bed's `hl7_id` is matched
against, in order), the monitor's own ORU^R40 alarms as events, and acknowledgements that say why."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7

from adapters.model.reading import Event
from adapters.protocols.hl7_mllp.alarms import MONITOR_ALARM, encode_r40
from adapters.protocols.hl7_mllp.decoder import Hl7MllpDecoder
from adapters.protocols.hl7_mllp.received import read_message

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


def frame(text: str) -> bytes:
    return SB + text.replace("\n", "\r").encode("latin-1") + EB + CR


GATEWAY = """MSH|^~\\&|ACME_Gateway^080019FFFE3ED02D^EUI-64|ACME HC|||20110602050000+0000||ORU^R01|c1|P|2.6|||AL|NE
PID|||HO2009001^^^NIST^PI
PV1||I|HO Surgery^OR^1|
OBR|1|x|x|182777000^monitoring of patient^SCT|||20110602045842+0000
OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.1|120|mm[Hg]^mm[Hg]^UCUM|||||R|||20110602045842+0000||||080019FFFE3ED02D^GATEWAY~0123456789ABCDEF^^0123456789ABCDEF^EUI-64
OBX|2|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.1.1.2|80|mm[Hg]^mm[Hg]^UCUM|||||R|||20110602045842+0000||||080019FFFE3ED02D^GATEWAY"""


def received(text: str):
    message = read_message(frame(text)[1:-2])
    assert message is not None
    return message


def test_sender_identifiers_in_match_order() -> None:
    ids = received(GATEWAY).sender()
    assert ids.equipment == ("080019FFFE3ED02D^GATEWAY", "0123456789ABCDEF^^0123456789ABCDEF^EUI-64")
    assert (ids.location, ids.application, ids.facility) == (
        "HO Surgery^OR^1", "ACME_Gateway^080019FFFE3ED02D^EUI-64", "ACME HC")
    assert ids.candidates() == [
        "080019fffe3ed02d^gateway", "080019fffe3ed02d",  # OBX-18: whole, entity id
        "0123456789abcdef^^0123456789abcdef^eui-64", "0123456789abcdef",  # entity id = universal id: once
        "ho surgery^or^1",  # PV1-3 whole only
        "acme_gateway^080019fffe3ed02d^eui-64", "acme_gateway", "080019fffe3ed02d",  # MSH-3 whole, HD.1, HD.2
        "acme hc",  # MSH-4
    ]
    assert "eui-64" not in ids.candidates()  # a type never matches alone
    assert ids.describe().startswith("OBX-18 080019FFFE3ED02D^GATEWAY, OBX-18 0123456789ABCDEF")


def test_identifiers_are_bounded_and_printable() -> None:
    rows = [f"OBX|{i}|NM|147842^X^MDC|1|80||||||R|||||||DEV{i}\x01" for i in range(50)]
    ids = received("\n".join(["MSH|^~\\&|" + "A" * 500 + "||||20240101000000+0000||ORU^R01|1|P|2.6", *rows])).sender()
    assert len(ids.equipment) == 8 and ids.equipment[0] == "DEV0?"
    assert len(ids.application) == 120


def test_ack_with_a_reason_escapes_it_and_names_the_error() -> None:
    ack = received(GATEWAY).ack("R", "no bed has hl7_id for MSH-3 A^B|C", "204^Unknown key identifier^HL70357")
    assert ack.count(SB) == 1  # AL|NE: the commit ACK only
    parsed = hl7.parse(ack[1:-2].decode())
    assert str(parsed.segment("MSA")[1]) == "CR"
    assert str(parsed.segment("MSA")[3]) == "no bed has hl7_id for MSH-3 A\\S\\B\\F\\C"
    assert str(parsed.segment("ERR")[3]) == "204^Unknown key identifier^HL70357"


def test_an_ack_message_is_never_acknowledged() -> None:
    ack = received("MSH|^~\\&|A||||20240101000000+0000||ACK^R01|5|P|2.6\nMSA|AA|1")
    assert ack.ack_codes("A") == [] and ack.ack("A") == b""


T = datetime(2026, 1, 24, 4, 47, 38, tzinfo=UTC)


def test_r40_alarm_becomes_a_monitor_alarm_event_and_is_acknowledged() -> None:
    decoder = Hl7MllpDecoder("mon-1")
    data = encode_r40(T, control_id="9", sender="MON1", source_mdc=150456, source_ref="MDC_PULS_OXIM_SAT_O2",
                      event="196674^MDC_EVT_LO", phase="start", priority="PH")
    items = decoder.feed(data)
    assert items == [Event(T, MONITOR_ALARM, "SpO2 MDC_EVT_LO: start, active, high priority, physiological",
                           source="mon-1")]
    assert decoder.stats["monitor_alarms"] == 1
    out = decoder.pending_output().decode()
    assert "ACK^R40^ACK|9|" in out and "MSA|AA|9" in out


def test_vendor_r40_layouts_read_by_reference_id() -> None:
    """Mindray-style attribute codes (68481…) and other vendors' (68165…) alike; priority from OBX-8 when no
    priority row is sent; an alarm row with no time of its own takes OBR-7."""
    text = "\n".join([
        "MSH|^~\\&|MINDRAY_^00A037000000^EUI-64|MINDRAY|||20260124124738+0800||ORU^R40|7|P|2.6",
        "OBR|1|||196616^MDC_EVT_ALARM^MDC|||20260124124738+0800",
        "OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.7.0.196680.1|196680^MDC_EVT_LEAD_OFF^MDC|||A~PL~ST|||R",
        "OBX|3|ST|68165^MDC_ATTR_EVENT_PHASE^MDC|1.7.0.196680.3|end",
        "OBX|4|ST|68166^MDC_ATTR_ALERT_STATE^MDC|1.7.0.196680.4|inactive",
    ])
    items = Hl7MllpDecoder("m").feed(frame(text))
    assert items == [Event(T, MONITOR_ALARM, "MDC_EVT_LEAD_OFF: end, inactive, low priority, technical", source="m")]


def test_r40_without_an_alarm_row_or_with_a_bad_time_is_counted() -> None:
    decoder = Hl7MllpDecoder("m")
    head = "MSH|^~\\&|M||||{}||ORU^R40|1|P|2.6\nOBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1|196674^MDC_EVT_LO^MDC"
    assert decoder.feed(frame("MSH|^~\\&|M||||20260101000000+0000||ORU^R40|1|P|2.6\nPID")) == []
    assert decoder.feed(frame(head.format("2026"))) == []
    assert decoder.feed(frame(head.format("20260101000000"))) == []  # no offset and no zone: never guessed
    assert (decoder.stats["empty_alarms"], decoder.stats["bad_time"], decoder.stats["no_offset_times"]) == (1, 1, 1)


def test_a_repeated_alarm_state_is_recorded_once_and_a_change_again() -> None:
    decoder = Hl7MllpDecoder("m")

    def r40(seconds: int, phase: str, control_id: str) -> bytes:
        return encode_r40(T.replace(second=seconds), control_id=control_id, sender="M", source_mdc=150456,
                          source_ref="MDC_PULS_OXIM_SAT_O2", event="196674^MDC_EVT_LO", phase=phase, priority="PH")

    phases = ["start", "continue", "continue", "end", "start"]
    texts = [e.text for k, phase in enumerate(phases) for e in decoder.feed(r40(k, phase, str(k)))]
    assert [t.split(": ")[1].split(",")[0] for t in texts] == ["start", "continue", "end", "start"]
    assert (decoder.stats["monitor_alarms"], decoder.stats["alarm_repeats"]) == (4, 1)
    assert decoder.pending_output().count(b"MSA|AA|") == 5  # a repeat is acknowledged like any message
