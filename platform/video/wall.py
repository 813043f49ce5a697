"""The monitoring wall: which cameras, in what order, how many at once, how often it turns the page."""
from __future__ import annotations

from dataclasses import dataclass

from ..streams import media

SIZES = (1, 4, 9, 16)


@dataclass(frozen=True)
class WallOptions:
    size: int = 9            # tiles a page: 1, 4, 9 or 16
    cycle: int = 30          # seconds a page stays (0: no cycling)
    every: int = 15          # seconds between status/snapshot refreshes
    problems_first: bool = False
    live: bool = True        # play video in the tiles (else newest snapshots only)

    @classmethod
    def from_args(cls, args) -> "WallOptions":
        size = args.get("size", 9, type=int)
        return cls(size=size if size in SIZES else 9,
                   cycle=max(0, min(args.get("cycle", 30, type=int) or 0, 3600)),
                   every=max(5, min(args.get("every", 15, type=int) or 15, 600)),
                   problems_first=args.get("problems") in ("1", "on", "true"),
                   live=args.get("live", "1") not in ("0", "off", "false"))


def is_problem(cam) -> bool:
    return cam.status in ("faulty", "offline") or cam.health not in ("ok", "unknown")


def tiles(unit_id: int | None, problems_first: bool) -> list:
    """(camera, newest snapshot or None, problem?) for every camera the user may view."""
    rows = [(cam, snap, is_problem(cam)) for cam, snap in media.latest_snapshots(unit_id)]
    if problems_first:
        rows.sort(key=lambda row: not row[2])  # stable: commune and code order kept within each group
    return rows
