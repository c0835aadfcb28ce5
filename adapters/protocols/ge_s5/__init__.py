"""GE Datex-Ohmeda S/5 / CARESCAPE Computer Interface: framing, records, the decoder and its emulator."""
