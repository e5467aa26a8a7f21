"""Contracts shared by every layer: typed records, configs, error codes and Arrow table schemas.

Pure Python + numpy + pyarrow; never imports Beam or torch.
"""
