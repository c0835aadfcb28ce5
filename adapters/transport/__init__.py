"""Byte transports to a bedside monitor: a serial port or any pyserial URL, with reconnection and a watchdog."""
