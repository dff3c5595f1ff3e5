#!/usr/bin/env python3
"""docs/architecture.md's room table against the code: every room it names exists, and every #include of a
kvbench header in a room's files comes from that room or from a room in its "may include" column. Also: no
source file outside tests over 800 lines.

    python3 tests/architecture_check.py SOURCE_DIR

Exit 0 when the code matches the page; otherwise one line per violation, exit 1.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

MAX_LINES = 800


def read_rooms(doc: Path) -> dict[str, set[str]]:
    text = doc.read_text()
    block = text.split("<!-- rooms:", 1)[1].split("<!-- /rooms -->", 1)[0]
    rooms: dict[str, tuple[str, set[str]]] = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not cells[0].startswith("`"):
            continue
        folder = cells[0].strip("`")
        allowed = {a.strip() for a in cells[4].split(",") if a.strip() not in ("", "–", "-")}
        rooms[folder] = allowed
    return rooms


def short(folder: str) -> str:
    return folder.rsplit("/", 1)[-1]


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    rooms = read_rooms(root / "docs" / "architecture.md")
    problems = []
    if len(rooms) < 10:
        problems.append(f"docs/architecture.md: found only {len(rooms)} rooms in the table")
    by_short = {short(f): f for f in rooms}
    for folder, allowed in rooms.items():
        if not (root / folder).is_dir():
            problems.append(f"docs/architecture.md names room {folder}, which does not exist")
        for a in allowed:
            if a not in by_short:
                problems.append(f"docs/architecture.md: room {folder} may include '{a}', which is no room")
    # The longest folder prefix wins (harness/device before harness).
    ordered = sorted(rooms, key=len, reverse=True)

    def room_of(path: str) -> str | None:
        return next((f for f in ordered if path == f or path.startswith(f + "/")), None)

    for folder in rooms:
        for f in sorted((root / folder).rglob("*")):
            if f.suffix not in (".h", ".cpp", ".cu") or not f.is_file():
                continue
            rel = f.relative_to(root).as_posix()
            lines = f.read_text(errors="replace").splitlines()
            if len(lines) > MAX_LINES:
                problems.append(f"{rel}: {len(lines)} lines (at most {MAX_LINES} outside tests)")
            for n, line in enumerate(lines, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                target = room_of(m.group(1))
                if target is None or target == folder:
                    continue
                if short(target) not in rooms[folder]:
                    problems.append(f"{rel}:{n}: includes {m.group(1)} ({short(target)}), which {folder} may not")
    for p in problems:
        print(p)
    print(f"{len(rooms)} rooms, {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
