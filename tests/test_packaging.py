"""The wheel carries contexts/ and templates/, and vccore finds them when installed from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_data_and_works_from_it(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("vccore-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    index = json.loads((ROOT / "contexts" / "index.json").read_text())
    assert "vccore/_data/contexts/index.json" in names
    for entry in index.values():
        assert f"vccore/_data/contexts/{entry['file']}" in names
    for template in (ROOT / "templates").rglob("*"):
        if template.is_file() and not template.name.startswith("."):
            assert f"vccore/_data/templates/{template.relative_to(ROOT / 'templates')}" in names
    assert "vccore/py.typed" in names

    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        "import vccore, vccore._resources as r;"
        "print(vccore.__file__);"
        "print(r.data_dir('contexts'));"
        "print(len(vccore.bundled_contexts().read_bytes('https://www.w3.org/ns/credentials/v2')));"
        "print(','.join(sorted(vccore.bundled_entity_types())))"
    )
    env = dict(os.environ, PYTHONPATH=str(unpacked))
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
    )
    module, data, size, entity_types = done.stdout.split()
    assert module.startswith(str(unpacked))
    assert data == str(unpacked / "vccore" / "_data" / "contexts")
    assert size == "10131"
    assert entity_types == "HealthProfessional,VaccinationCertificate"
