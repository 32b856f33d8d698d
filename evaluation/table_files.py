"""Write an evaluation's markdown table and its figures as JSON beside it (`x.md` -> `x.json`)."""

from __future__ import annotations

import json
import os


def write_table(path: str, table: str, data: dict) -> None:
    """`table` (markdown) to `path`, `data` as indented JSON to the same path with `.json` as extension."""
    with open(path, "w") as f:
        f.write(table + "\n")
    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump(data, f, indent=1)
