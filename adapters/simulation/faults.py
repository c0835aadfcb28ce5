"""Line faults an emulator can inject, from a spec like `corrupt=0.01,drop=0.02,unplug=600+30,seed=7`.

What real links do (308 of 2446 frames of the GE capture in tests/data/ge_s5 fail the checksum):
frames lost, bytes flipped, frames cut short, the cable pulled, the device going quiet. Random choices
come from one seeded generator, so a fault run is reproducible frame by frame.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

Window = tuple[float, float]  # (start, duration) in scenario seconds from the scenario start


@dataclass
class Faults:
    """Per-frame drop/corrupt probabilities and time windows of unplugged cable or silence."""

    corrupt: float = 0.0
    drop: float = 0.0
    unplug: tuple[Window, ...] = ()
    silence: tuple[Window, ...] = ()
    seed: int = 0
    stats: Counter[str] = field(default_factory=Counter, init=False, compare=False)  # frames, dropped, corrupted

    def __post_init__(self) -> None:
        for name, p in (("corrupt", self.corrupt), ("drop", self.drop)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1, got {p:g}")
        if self.corrupt + self.drop > 1.0:
            raise ValueError("corrupt + drop must not exceed 1 (a frame suffers at most one fault)")
        self._rng = random.Random(self.seed)

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """`corrupt=P,drop=P,unplug=AT+FOR,silence=AT+FOR,seed=N`, each optional; unplug and silence
        may repeat. Raises ValueError naming the offending item."""
        rates: dict[str, float] = {}
        windows: dict[str, list[Window]] = {"unplug": [], "silence": []}
        seed = 0
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, sep, value = (s.strip() for s in item.partition("="))
            try:
                if not sep:
                    raise ValueError("expected KEY=VALUE")
                if key in ("corrupt", "drop"):
                    if key in rates:
                        raise ValueError("given twice")
                    rates[key] = float(value)
                elif key in windows:
                    windows[key].append(_window(value))
                elif key == "seed":
                    seed = int(value)
                else:
                    raise ValueError("unknown fault (known: corrupt, drop, unplug, silence, seed)")
            except ValueError as e:
                raise ValueError(f"bad fault {item!r}: {e}") from None
        return cls(**rates, unplug=tuple(windows["unplug"]), silence=tuple(windows["silence"]), seed=seed)

    def apply(self, frame: bytes, keep: bytes = b"") -> bytes | None:
        """The frame as the line delivers it: unchanged, None (dropped) or corrupted.

        Corruption replaces one byte strictly inside the frame, or cuts the frame's tail off. `keep`
        names the protocol's framing bytes, which a flip never touches nor creates, so one corrupted
        frame stays one bad frame for the receiver instead of splitting into two.
        """
        self.stats["frames"] += 1
        r = self._rng.random()
        if r < self.drop:
            self.stats["dropped"] += 1
            return None
        if r >= self.drop + self.corrupt:
            return frame
        self.stats["corrupted"] += 1
        inside = [i for i in range(1, len(frame) - 1) if frame[i] not in keep]
        if inside and self._rng.random() < 0.5:
            i = self._rng.choice(inside)
            choices = [b for b in range(256) if b != frame[i] and b not in keep]
            return frame[:i] + bytes((self._rng.choice(choices),)) + frame[i + 1:]
        # Cut before the last byte as well as the end mark: a frame that merely lost its closing mark
        # would be completed, intact, by the next frame's opening one.
        return frame[:self._rng.randrange(2, len(frame) - 1)] if len(frame) > 3 else b""

    def unplugged(self, t: float) -> bool:
        """Whether the cable is out at t scenario seconds from the scenario start."""
        return _within(self.unplug, t)

    def silent(self, t: float) -> bool:
        """Whether the device sends nothing at t scenario seconds from the scenario start."""
        return _within(self.silence, t)


def _window(text: str) -> Window:
    at, sep, length = text.partition("+")
    if not sep:
        raise ValueError("expected AT+FOR in seconds, e.g. 600+30")
    start, duration = float(at), float(length)
    if not (start >= 0 and duration > 0):  # also refuses nan
        raise ValueError("AT must be ≥ 0 and FOR > 0")
    return start, duration


def _within(windows: tuple[Window, ...], t: float) -> bool:
    return any(start <= t < start + duration for start, duration in windows)
