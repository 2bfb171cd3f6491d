"""The watched folder's sync logic on a real SQLite store, without Docker or watchdog."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from miniorch.config import PolicyConfig
from miniorch.controllers import manifestsync
from miniorch.controllers.objects import Applier, Conflict
from miniorch.spec import errors as errors_mod
from miniorch.spec import files, loader
from miniorch.store.records import ObjectRecord
from miniorch.store.store import Store

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def job(name: str, command: str = "true", **spec: object) -> str:
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            **spec,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", command]}],
                }
            },
        },
    }
    return yaml.safe_dump(manifest, sort_keys=False)


class Folder:
    """A folder, a store and the sync between them."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "jobs.d"
        self.root.mkdir()
        self.store = Store(f"sqlite:///{tmp / 'state.db'}")
        self.applier = Applier(self.store, PolicyConfig(), lambda: None, lambda: NOW)
        self.sync = manifestsync.FolderSync(self.root, self.applier, self.store, lambda: NOW)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def live(self) -> dict[str, ObjectRecord]:
        return {o.name: o for o in self.store.list_objects() if not o.deleting}

    def events(self, reason: str) -> list[str]:
        return [e.message for e in self.store.list_events() if e.reason == reason]


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Folder]:
    f = Folder(tmp_path)
    yield f
    f.store.close()


def test_new_file_objects_are_created_with_the_file_as_source(folder: Folder) -> None:
    """Every document of a new file becomes an object whose source is file:<path>."""
    path = folder.write("two.yaml", job("a") + "---\n" + job("b"))
    folder.sync.sync()
    live = folder.live()
    assert sorted(live) == ["a", "b"]
    assert live["a"].source == f"file:{path}"


def test_a_changed_mutable_field_updates_the_object(folder: Folder) -> None:
    """Editing parallelism configures the Job in place (same uid, next generation)."""
    path = folder.write("a.yaml", job("a", parallelism=1))
    folder.sync.sync()
    uid = folder.live()["a"].uid
    path.write_text(job("a", parallelism=3))
    folder.sync.sync([path])
    obj = folder.live()["a"]
    assert (obj.uid, obj.generation, obj.manifest["spec"]["parallelism"]) == (uid, 2, 3)


def test_an_immutable_change_keeps_the_job_and_says_to_rename_or_re_add(folder: Folder) -> None:
    """A new template for an existing Job is refused with a FieldImmutable event on the file and the Job."""
    path = folder.write("a.yaml", job("a", "sleep 1"))
    folder.sync.sync()
    path.write_text(job("a", "sleep 2"))
    folder.sync.sync([path])
    assert folder.live()["a"].manifest["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "sleep 1"
    [message, on_job] = folder.events("FieldImmutable")
    assert message == on_job
    assert "immutable" in message and "rename the Job" in message and str(path) in message


def test_a_removed_file_deletes_what_it_defined(folder: Folder) -> None:
    """Deleting the file marks its objects for (cascading) deletion; other files' objects stay."""
    gone = folder.write("gone.yaml", job("a") + "---\n" + job("b"))
    folder.write("kept.yaml", job("c"))
    folder.sync.sync()
    gone.unlink()
    folder.sync.sync([gone])
    assert sorted(folder.live()) == ["c"]
    assert all(o.deleting for o in folder.store.list_objects() if o.name in ("a", "b"))


def test_a_file_that_stops_defining_an_object_deletes_only_that_object(folder: Folder) -> None:
    """Removing one document deletes its object; the file's other object is untouched."""
    path = folder.write("two.yaml", job("a") + "---\n" + job("b"))
    folder.sync.sync()
    path.write_text(job("b"))
    folder.sync.sync([path])
    assert sorted(folder.live()) == ["b"]


@pytest.mark.parametrize(
    ("broken", "where", "what"),
    [
        ("metadata:\n  name: [a\n", ":3:1:", "invalid YAML"),
        (job("a").replace("  template:", "  templat: 1\n  template:"), ":", 'spec.templat: unknown field "templat"'),
        (job("a", parallelism=-1), ":", "spec.parallelism"),
    ],
    ids=["syntax", "unknown-field", "bad-value"],
)
def test_an_invalid_file_changes_nothing_and_reports_file_line_and_path(
    folder: Folder, broken: str, where: str, what: str
) -> None:
    """A broken edit keeps the last good version in force and records a Warning naming file:line."""
    path = folder.write("a.yaml", job("a", parallelism=2) + "---\n" + job("other"))
    folder.sync.sync()
    before = folder.live()
    path.write_text(broken)
    report = folder.sync.sync([path])
    assert report.failed == 1
    assert folder.live() == before
    [message] = folder.events("InvalidManifest")
    assert message.startswith(f"{path}{where}") and what in message


def test_fixing_an_invalid_file_applies_it_and_says_so(folder: Folder) -> None:
    """After a bad version, the fixed file is applied and a Normal ManifestApplied event follows."""
    path = folder.write("a.yaml", job("a", parallelism=2))
    folder.sync.sync()
    path.write_text("kind: [\n")
    folder.sync.sync([path])
    path.write_text(job("a", parallelism=4))
    folder.sync.sync([path])
    assert folder.live()["a"].manifest["spec"]["parallelism"] == 4
    assert folder.events("ManifestApplied")


def test_the_same_error_is_reported_once_not_at_every_rescan(folder: Folder) -> None:
    """An unchanged bad file is not re-reported by the periodic full rescan."""
    folder.write("bad.yaml", "kind: [\n")
    folder.sync.sync()
    folder.sync.sync()
    folder.sync.sync()
    [event] = [e for e in folder.store.list_events() if e.reason == "InvalidManifest"]
    assert event.count == 1


def test_a_duplicate_name_in_another_file_is_refused_until_the_first_lets_go(folder: Folder) -> None:
    """The second file defining a Job fails naming the first file:line; freeing the name applies it."""
    first = folder.write("a.yaml", job("x", parallelism=1))
    folder.sync.sync()
    second = folder.write("b.yaml", job("x", parallelism=5) + "---\n" + job("y"))
    folder.sync.sync([second])
    assert sorted(folder.live()) == ["x"]
    [message] = folder.events("InvalidManifest")
    assert f"{second}:" in message and f"also defined at {first}:" in message
    first.write_text(job("z"))
    folder.sync.sync([first])
    live = folder.live()
    assert sorted(live) == ["x", "y", "z"] and live["x"].source == f"file:{second}"


def test_a_renamed_file_keeps_its_objects_instead_of_recreating_them(folder: Folder) -> None:
    """Moving a.yaml to b.yaml hands the objects over (same uid): a finished Job does not run again."""
    old = folder.write("a.yaml", job("a"))
    folder.sync.sync()
    uid = folder.live()["a"].uid
    new = folder.root / "sub" / "b.yaml"
    new.parent.mkdir()
    old.rename(new)
    folder.sync.sync([old, new])
    obj = folder.live()["a"]
    assert (obj.uid, obj.source) == (uid, f"file:{new}")


def test_editor_files_hidden_files_and_empty_files_are_ignored(folder: Folder) -> None:
    """Swap, backup, lock, vim's 4913 probe, hidden and zero-byte files define nothing and delete nothing."""
    path = folder.write("a.yaml", job("a"))
    folder.sync.sync()
    for junk in (".a.yaml.swp", "a.yaml~", ".#a.yaml", "4913", ".hidden.yaml", ".git/x.yaml", "a.yaml.tmp"):
        folder.write(junk, job("junk"))
    path.write_text("")  # a writer truncated it and has not written yet
    folder.sync.sync()
    assert sorted(folder.live()) == ["a"]


def test_unchanged_files_are_not_applied_again(folder: Folder) -> None:
    """A full rescan or a restart leaves an unchanged file's objects exactly as they were."""
    folder.write("a.yaml", job("a"))
    folder.sync.sync()
    before = folder.live()
    restarted = manifestsync.FolderSync(folder.root, folder.applier, folder.store, lambda: NOW)
    restarted.sync()
    folder.sync.sync()
    assert folder.live() == before


def test_objects_of_files_gone_while_the_daemon_was_down_are_deleted_at_start(folder: Folder) -> None:
    """At start-up, objects whose file no longer exists are deleted; a missing folder deletes nothing."""
    path = folder.write("a.yaml", job("a"))
    folder.sync.sync()
    path.unlink()
    folder.root.rmdir()
    manifestsync.FolderSync(folder.root, folder.applier, folder.store, lambda: NOW).sync()
    assert sorted(folder.live()) == ["a"]
    folder.root.mkdir()
    manifestsync.FolderSync(folder.root, folder.applier, folder.store, lambda: NOW).sync()
    assert folder.live() == {}


def test_api_writes_to_a_file_managed_object_are_refused_naming_the_file(folder: Folder) -> None:
    """apply, delete and patch through the API fail with the file's path; suspend may be patched."""
    path = folder.write("a.yaml", job("a"))
    folder.sync.sync()
    with pytest.raises(Conflict, match=str(path)):
        folder.applier.apply(loader.load_text(job("a", parallelism=2), "cli.yaml"), "api")
    with pytest.raises(Conflict, match=str(path)):
        folder.applier.delete("Job", "default", "a")
    with pytest.raises(Conflict, match="only spec.suspend"):
        folder.applier.patch("Job", "default", "a", {"spec": {"parallelism": 2}})
    assert folder.applier.patch("Job", "default", "a", {"spec": {"suspend": True}}).action == "patched"


def test_a_runtime_suspend_survives_a_file_edit_that_does_not_mention_suspend(folder: Folder) -> None:
    """`ctl patch` suspend stays when the file leaves spec.suspend out; a file that sets it wins."""
    path = folder.write("a.yaml", job("a", parallelism=1))
    folder.sync.sync()
    folder.applier.patch("Job", "default", "a", {"spec": {"suspend": True}})
    path.write_text(job("a", parallelism=2))
    folder.sync.sync([path])
    assert folder.live()["a"].manifest["spec"]["suspend"] is True
    path.write_text(job("a", parallelism=2, suspend=False))
    folder.sync.sync([path])
    assert folder.live()["a"].manifest["spec"]["suspend"] is False


def test_find_duplicates_lets_the_first_claim_win_and_invalid_files_keep_their_names() -> None:
    """Pure planning: held names win, then batch order; a failing file keeps what it defined before."""
    a = files.Loaded(Path("/f/a.yaml"), "1", tuple(loader.load_text(job("x"), "/f/a.yaml")))
    b = files.Loaded(Path("/f/b.yaml"), "2", tuple(loader.load_text(job("x"), "/f/b.yaml")))
    bad = files.Loaded(Path("/f/c.yaml"), "3", errors=(errors_mod.ManifestError("/f/c.yaml", 1, 1, "", "x"),))
    assert set(files.find_duplicates([a, b], {}, {})) == {Path("/f/b.yaml")}
    held = {("Job", "default", "x"): ("/f/z.yaml", 4)}
    found = files.find_duplicates([a], held, {})
    assert "also defined at /f/z.yaml:4" in found[Path("/f/a.yaml")][0].message
    before = {Path("/f/c.yaml"): {("Job", "default", "x"): 1}}
    assert set(files.find_duplicates([a, bad], {}, before)) == {Path("/f/a.yaml")}


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("a.yaml", True),
        ("sub/b.yml", True),
        ("a.json", False),
        (".a.yaml.swp", False),
        ("a.yaml~", False),
        (".#a.yaml", False),
        ("4913", False),
        (".git/a.yaml", False),
        ("a.yaml.part", False),
    ],
)
def test_is_manifest_counts_yaml_files_only(name: str, counts: bool) -> None:
    """Only visible *.yaml/*.yml files under the root are manifests."""
    assert files.is_manifest(Path("/r") / name, Path("/r")) is counts
