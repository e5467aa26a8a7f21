"""Emotion categories -> points on the arousal-valence plane: the one table the project uses.

Source: Warriner, A. B., Kuperman, V., & Brysbaert, M. (2013). Norms of valence, arousal, and dominance
for 13,915 English lemmas. Behavior Research Methods, 45(4), 1191-1207. doi:10.3758/s13428-012-0314-x.
Columns ``V.Mean.Sum`` and ``A.Mean.Sum`` of the supplementary ratings file (``Ratings_Warriner_et_al.csv``;
row numbers below), rated on 1..9 scales (valence: unhappy .. happy; arousal: calm .. excited), and
mapped linearly onto the traces' [-1, 1] as ``(rating - 5) / 4``.

Each category is rated through the adjective for the state a person *shows* (RAVDESS, the teacher and
the validation set all label expressions): ``angry`` (row 423: V 2.53, A 6.20), ``calm`` (1702: 6.89,
1.67), ``disgusted`` (3570: 2.68, 4.89), ``fearful`` (4525: 2.66, 5.45), ``happy`` (5596: 8.47, 6.05),
``sad`` (10583: 2.10, 3.49), ``surprised`` (12139: 6.57, 5.95).

``neutral`` is the one exception: it is the scales' midpoint, (0, 0), not the word's rating. Raters were
told to use the middle of each scale for a neutral feeling, so the midpoint *is* a neutral state on these
scales, whereas the word "neutral" (row 8155: V 5.50, A 3.45) was rated as a word, a dull one. The traces
keep 0 = neutral as RECOLA and AVEC do. ``contempt`` (in the validation set) has no row here: no corpus we
train on uses it, so it stays unmapped (``category_point`` raises) and reports list it as such.

Nothing else in the code base holds numbers for categories: loaders, the teacher's targets and the
evaluation all call ``category_point``. Pure Python; no Beam import.
"""

from __future__ import annotations

from types import MappingProxyType

# (valence, arousal) ratings on the 1..9 scales, Warriner et al. (2013), V.Mean.Sum / A.Mean.Sum.
_WARRINER_1_TO_9: dict[str, tuple[float, float]] = {
    "angry": (2.53, 6.20),
    "calm": (6.89, 1.67),
    "disgusted": (2.68, 4.89),
    "fearful": (2.66, 5.45),
    "happy": (8.47, 6.05),
    "sad": (2.10, 3.49),
    "surprised": (6.57, 5.95),
    "neutral": (5.0, 5.0),  # the scales' midpoint by definition (see the module docstring)
}


def _unit(rating: float) -> float:
    return round((rating - 5.0) / 4.0, 4)


# Canonical name -> (arousal, valence) in [-1, 1]: the order every label array in the code base uses.
CATEGORY_POINTS: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {name: (_unit(a), _unit(v)) for name, (v, a) in _WARRINER_1_TO_9.items()}
)

# Other spellings used by the corpora we read -> canonical name.
_ALIASES: dict[str, str] = {
    "anger": "angry",
    "disgust": "disgusted",
    "fear": "fearful",
    "afraid": "fearful",
    "happiness": "happy",
    "joy": "happy",
    "smiling": "happy",
    "sadness": "sad",
    "surprise": "surprised",
}

# RAVDESS records each emotion but neutral at a "normal" and a "strong" intensity. The table's point is
# taken for "strong"; "normal" is the same category expressed less, so its offset from neutral is scaled
# by this factor. No published mapping exists: 0.7 is our choice (documented in docs/model.md).
NORMAL_INTENSITY_SCALE = 0.7


def canonical(name: str) -> str:
    """The table's name for ``name`` (case-insensitive, aliases resolved); raises for unknown ones."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in CATEGORY_POINTS:
        known = sorted(set(CATEGORY_POINTS) | set(_ALIASES))
        raise KeyError(f"no valence-arousal point for category {name!r}; known: {known}")
    return key


def category_point(name: str, intensity: str | None = None) -> tuple[float, float]:
    """(arousal, valence) in [-1, 1] for category ``name``; ``intensity`` "normal" scales the point
    towards neutral by ``NORMAL_INTENSITY_SCALE`` ("strong" or None: the table's point)."""
    a, v = CATEGORY_POINTS[canonical(name)]
    if intensity is None or intensity == "strong":
        return a, v
    if intensity != "normal":
        raise ValueError(f"intensity must be 'normal' or 'strong', got {intensity!r}")
    return round(a * NORMAL_INTENSITY_SCALE, 4), round(v * NORMAL_INTENSITY_SCALE, 4)


def is_known(name: str) -> bool:
    try:
        canonical(name)
    except KeyError:
        return False
    return True
