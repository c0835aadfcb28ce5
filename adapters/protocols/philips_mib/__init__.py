"""Philips IntelliVue Data Export over the MIB/RS-232 port: framing, PDUs, the decoder and its emulator."""
