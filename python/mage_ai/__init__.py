"""Blockflow's compatibility package for Mage block code: the parts of `mage_ai` that block files import."""
