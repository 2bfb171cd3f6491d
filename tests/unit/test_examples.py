"""Every example manifest (config/examples, README snippets, the quickstart's suggestions) validates
and runs on the locally built image, so nothing needs a registry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from miniorch.spec import files, loader

ROOT = Path(__file__).resolve().parents[2]
LOCAL_IMAGE = "miniorch.local/busybox:latest"
EXAMPLES = sorted((ROOT / "config" / "examples").rglob("*.yaml"))


def readme_manifests() -> list[str]:
    """The ```yaml blocks of README.md that are manifests (they have an apiVersion)."""
    blocks = re.findall(r"```ya?ml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [b for b in blocks if re.search(r"^apiVersion:", b, re.M)]


def containers(node: Any) -> Iterator[dict[str, Any]]:
    """Every container (and initContainer) anywhere in a manifest."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from value
            else:
                yield from containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from containers(item)


def check_local_images(text: str, where: str) -> None:
    found = [c for doc in yaml.safe_load_all(text) for c in containers(doc)]
    assert found, f"{where}: no container"
    for c in found:
        assert c["image"] == LOCAL_IMAGE, f"{where}: {c['name']} uses {c['image']}, not the local image"
        assert c.get("imagePullPolicy", "IfNotPresent") != "Always", f"{where}: {c['name']} would pull"


def test_there_are_a_job_a_cronjob_and_a_daemonset_example() -> None:
    """config/examples has at least one example of each kind."""
    kinds = {m.kind for m in files.load_paths(EXAMPLES)}
    assert {"Job", "CronJob", "DaemonSet"} <= kinds


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_file_validates_and_uses_the_local_image(path: Path) -> None:
    """Each file under config/examples is valid (as `miniorch validate` says) and needs no registry."""
    assert files.load_paths([path])
    check_local_images(path.read_text(), str(path))


def test_readme_manifest_snippets_validate_and_use_the_local_image() -> None:
    """Each manifest shown in README.md (a ```yaml block with an apiVersion) is valid and needs no registry."""
    for index, text in enumerate(readme_manifests()):
        assert loader.load_text(text, f"README.md snippet {index}")
        check_local_images(text, f"README.md snippet {index}")


def test_the_quickstart_suggests_existing_cronjob_and_daemonset_examples() -> None:
    """The files scripts/quickstart.sh tells the user to apply exist, and include a CronJob and a DaemonSet."""
    named = re.findall(r"config/examples/[\w./-]+\.yaml", (ROOT / "scripts" / "quickstart.sh").read_text())
    paths = [ROOT / n for n in named]
    assert all(p.is_file() for p in paths), named
    assert {"CronJob", "DaemonSet"} <= {m.kind for m in files.load_paths(paths)}
