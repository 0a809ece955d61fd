"""Acquisition: find the IR heads, read them, decode, and hand every reading to the store.

``discovery`` finds heads (udev hot-plug events, or device paths for adapters udev does not
announce), ``reader`` reads one head in its own thread, ``service`` supervises them all with
the single writer thread and talks to systemd, ``simulate`` makes meters on ptys.
"""
