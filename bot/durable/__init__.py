"""Durable runs: every run is a record and a queue entry in Redis, executed by whichever replica holds its lease,
resumed by another when that replica dies, and replayed deterministically from what it recorded."""
