"""Blockflow's Python runtime: the pieces the warm worker (blockflow_worker.py) and the mage_ai
compatibility package share."""
