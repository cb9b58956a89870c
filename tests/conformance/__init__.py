"""Conformance suite for asgibench's ASGI server core, over real loopback sockets.

Every wire-level behaviour runs on every event loop x every HTTP parser; process-level
behaviour (signals, workers, the CLI) runs as ``bench serve`` subprocesses.
"""
