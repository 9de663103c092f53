"""The differential test: a full sync makes the same mirror, row for row, as the
reference code did (tests/data/mirror_digests.json, see tests/differential.py), on the
sample vault, a generated vault and a fuzzed corpus; in one process and with parsing
processes, and again after a second sync over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from differential import DIGESTS, corpus, integrity_faults, mirror_digests, table_digests

from vaultsync.config import load_config
from vaultsync.sync import sync_vault

EXPECTED = json.loads(DIGESTS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def vaults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return corpus(tmp_path_factory.mktemp("differential"))


@pytest.mark.parametrize("name", ["sample", "generated", "fuzzed"])
@pytest.mark.parametrize("workers", [1, 2])
def test_full_sync_makes_the_reference_mirror(vaults, tmp_path, name, workers):
    got = mirror_digests(vaults[name], tmp_path / "mirror.db", workers=workers)
    differ = {t: (got.get(t), want) for t, want in EXPECTED[name].items() if got.get(t) != want}
    assert differ == {}
    assert set(got) == set(EXPECTED[name])
    assert integrity_faults(tmp_path / "mirror.db") == []


def test_second_sync_keeps_the_reference_mirror(vaults, tmp_path):
    db = tmp_path / "mirror.db"
    mirror_digests(vaults["generated"], db, workers=2)
    report = sync_vault(load_config(vaults["generated"], db), workers=2)
    assert not report.changed
    assert table_digests(db) == EXPECTED["generated"]
    assert integrity_faults(db) == []
