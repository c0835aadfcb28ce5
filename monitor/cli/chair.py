"""`vigil acquire --config site.toml --bed chair-N`: a chair computer runs its one bed of a site.

The bed is run as `vigil serve` runs it — its serial link (or replayed recording), its live alarm engine, its
sessions — through the same code (`monitor/runtime/site.py`, a site of one bed), into the site's database, while
the central computer serves the views (`vigil serve --config site.toml --no-acquire`). An HL7 bed listens on the
site's `[hl7] listen` address of this computer and accepts only its own sender: run it on the computer its
monitor sends to. The bed is held for this process while it runs: a second process is refused, naming this one.
"""

from __future__ import annotations

import argparse

from monitor.cli.link import wait
from monitor.cli.options import UsageError, open_store, session_summary
from monitor.cli.site import open_site, site_file
from monitor.errors import first_line

# What the site file says of a bed: given with --config, these would contradict it.
FROM_THE_SITE = ("port", "listen", "protocol", "hl7_id", "type", "limits", "session", "patient")


def cmd_acquire_bed(args: argparse.Namespace) -> int:
    from monitor.runtime.site import one_bed

    given = [name for name in FROM_THE_SITE if getattr(args, name, None)]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} comes from the site file with --config")
    config = site_file(args)
    chair = one_bed(config, args.bed)
    if chair is None:
        raise UsageError(f"{config.path} has no bed {args.bed!r} (its beds: "
                         f"{', '.join(bed.id for bed in config.beds) or 'none'})")
    store = open_store(args)
    site = open_site(store, chair, args.operator)
    bed = site.beds[0]
    print(f"acquiring bed {bed.config.id} into {store.database.where}; Ctrl+C to stop", flush=True)
    site.start()
    try:
        wait(args.duration, lambda: bed.runner.error is None and not site.leases.lost)
    finally:
        site.stop()
    print(session_summary(store, bed.session()))
    if site.leases.lost:
        raise UsageError(f"bed {bed.config.id} was taken over by another process (this one was not heard from for "
                         "too long): acquisition stopped")
    if bed.runner.error is not None:
        raise UsageError(f"acquisition failed: {first_line(bed.runner.error)}")
    return 0
