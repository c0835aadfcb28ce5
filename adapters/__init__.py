"""Lower layer of Vigil: readings, device protocols, transports, CSV replay and emulators.

Nothing here imports from ``monitor``; the dependency points one way only.
"""
