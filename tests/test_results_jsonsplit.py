"""The streaming splitter of big GeoJSON feature arrays must give exactly what a full parse gives."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from napari_aignostics.results import jsonsplit


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice([1, 2.5, None, True, "a,b", 'q"uo]te', "\\", 'x\\"y', "{[,]}", ""])
    if roll < 0.65:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["k", "features", 'a"b']): _value(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


@pytest.mark.parametrize("seed", range(4))
def test_split_equals_full_parse(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    checked = 0
    for trial in range(150):
        features = [_value(rng) for _ in range(rng.randint(0, 8))]
        doc: Any = {"type": "FeatureCollection", "features": features} if trial % 2 else features
        raw = json.dumps(doc, separators=(",", ":") if trial % 3 else (", ", ": ")).encode()
        monkeypatch.setattr(jsonsplit, "WINDOW", rng.choice([3, 5, 7, 64, 1 << 20]))
        batches = jsonsplit.feature_batches(raw, batch=rng.randint(1, 4))
        if batches is None:
            continue  # the caller parses such files whole
        assert [f for batch in batches for f in batch] == features
        checked += 1
    assert checked > 100


def test_nested_features_key_is_not_taken_for_the_array() -> None:
    doc = {"type": "FeatureCollection", "meta": {"features": [{"wrong": 1}]},
           "features": [{"right": 1}]}
    batches = jsonsplit.feature_batches(json.dumps(doc).encode())
    assert batches is not None and list(batches) == [[{"right": 1}]]
