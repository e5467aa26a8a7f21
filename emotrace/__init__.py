"""emotrace: posted videos -> time-indexed arousal/valence traces.

Layers (imports point down): pipelines -> transforms -> {model, features, media, datasets, analytics}
-> schemas. Only ``emotrace.transforms`` and ``emotrace.pipelines`` import Apache Beam.
"""

__version__ = "0.1.0"
