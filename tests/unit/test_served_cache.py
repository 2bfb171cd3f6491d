"""The served-pods cache: a pod is rendered again exactly when it or its owner was written, lists
keep the store's order, pods gone since are left out, and the bound holds."""

from __future__ import annotations

from miniorch.api.servedcache import Kept, Served, served_pods
from miniorch.store.kept import Key


class Renderer:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.gone: set[str] = set()

    def __call__(self, uids: list[str]) -> dict[str, Served]:
        self.asked.append(list(uids))
        return {u: {"uid": u, "n": len(self.asked)} for u in uids if u not in self.gone}


def _wanted(*pairs: tuple[str, Key]) -> list[tuple[str, Key]]:
    return list(pairs)


def test_a_second_list_renders_only_the_pods_whose_version_or_owner_changed() -> None:
    cache, render = served_pods(), Renderer()
    first = cache.served(_wanted(("a", (1, 1)), ("b", (2, 1)), ("c", (3, 1))), render)
    assert [p["uid"] for p in first] == ["a", "b", "c"]
    again = cache.served(_wanted(("a", (1, 1)), ("b", (5, 1)), ("c", (3, 2))), render)
    assert render.asked == [["a", "b", "c"], ["b", "c"]]
    assert again[0] is first[0] and again[1]["n"] == 2 and again[2]["n"] == 2


def test_the_order_is_the_lists_and_a_pod_gone_meanwhile_is_left_out() -> None:
    cache, render = served_pods(), Renderer()
    cache.served(_wanted(("b", (1, 0))), render)
    render.gone.add("c")
    out = cache.served(_wanted(("a", (2, 0)), ("b", (1, 0)), ("c", (3, 0))), render)
    assert [p["uid"] for p in out] == ["a", "b"]


def test_the_bound_drops_the_oldest_made() -> None:
    cache, render = Kept[Served](2), Renderer()
    cache.served(_wanted(("a", (1, 0)), ("b", (1, 0))), render)
    cache.served(_wanted(("a", (2, 0))), render)  # a made again: b is the oldest made
    cache.served(_wanted(("c", (1, 0))), render)
    assert len(cache) == 2
    cache.served(_wanted(("a", (2, 0)), ("b", (1, 0)), ("c", (1, 0))), render)
    assert render.asked[-1] == ["b"]
