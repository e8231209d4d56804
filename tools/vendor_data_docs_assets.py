"""Vendor the files GX Data Docs load from CDNs, from the npm packages of the same versions.

    python tools/vendor_data_docs_assets.py

`npm pack` fetches each package's tarball; only the files the pages load (tealeaves.quality.data_docs.CDN_FILES),
the Font Awesome web fonts its CSS loads and each licence are kept, under include/tealeaves/quality/docs_assets/.
README.md there is rewritten with every tarball's sha256 and every kept file's; the tests check the files against
it. Licence notes written by hand (for packages whose tarball has none) are left alone.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from tealeaves.quality.data_docs import ASSETS_DIR, CDN_FILES  # noqa: E402

# vendored folder → npm package spec
PACKAGES = {
    "bootstrap-4.3.1": "bootstrap@4.3.1",
    "jquery-3.7.1": "jquery@3.7.1",
    "popper.js-1.12.9": "popper.js@1.12.9",
    "bootstrap-table-1.19.1": "bootstrap-table@1.19.1",
    "bootstrap-table-1.19.0": "bootstrap-table@1.19.0",
    "bootstrap-datepicker-1.9.0": "bootstrap-datepicker@1.9.0",
    "forevolve-bootstrap-dark-1.1.0": "@forevolve/bootstrap-dark@1.1.0",
    "fontawesome-free-6.6.0": "@fortawesome/fontawesome-free@6.6.0",
    "vega-5.33.1": "vega@5.33.1",
    "vega-lite-5.23.0": "vega-lite@5.23.0",
    "vega-embed-6.29.0": "vega-embed@6.29.0",
}
# Loaded by all.min.css; browsers take the woff2 it lists first, so the .ttf fallbacks are left out.
FONTS = [
    f"fontawesome-free-6.6.0/webfonts/{name}.woff2"
    for name in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")
]
LICENCES = ("LICENSE", "LICENSE.txt")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    wanted: dict[str, list[str]] = {folder: [] for folder in PACKAGES}
    for path in [*CDN_FILES.values(), *FONTS]:
        folder, _, inside = path.partition("/")
        wanted[folder].append(inside)
    tarballs: dict[str, tuple[str, str]] = {}
    kept: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for folder, spec in PACKAGES.items():
            name = subprocess.run(
                ["npm", "pack", spec, "--silent", "--pack-destination", scratch],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[-1]
            tarball = Path(scratch) / name
            tarballs[folder] = (name, sha256(tarball.read_bytes()))
            with tarfile.open(tarball) as archive:
                members = {m.name.removeprefix("package/"): m for m in archive.getmembers() if m.isfile()}
                files = wanted[folder] + [licence for licence in LICENCES if licence in members]
                for inside in files:
                    if inside not in members:
                        sys.exit(f"{spec}: no {inside} in {name}")
                    data = archive.extractfile(members[inside]).read()
                    target = ASSETS_DIR / folder / inside
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                    kept.append((f"{folder}/{inside}", sha256(data)))
    write_readme(tarballs, sorted(kept))


def write_readme(tarballs: dict[str, tuple[str, str]], kept: list[tuple[str, str]]) -> None:
    rows = "\n".join(
        f"| `{PACKAGES[folder]}` | `{folder}/` | `{name}` | `{digest}` |" for folder, (name, digest) in tarballs.items()
    )
    files = "\n".join(f"{digest}  {path}" for path, digest in kept)
    (ASSETS_DIR / "README.md").write_text(
        f"""# Data Docs assets (vendored: GX Data Docs without internet)

GX's Data Docs pages load these files from public CDNs; `tealeaves.quality.data_docs.make_offline` copies this
folder into each Data Docs site (as `static/vendor/`) and points the pages at it. Each folder holds files from
the npm package of the version GX's templates name (`vega@5`, `vega-lite@5`, `vega-embed@6`: the newest release
of that major version), byte for byte, with the package's licence. Only the files the pages load are kept: the
minified builds and Font Awesome's woff2 web fonts.

Made by `python tools/vendor_data_docs_assets.py` (`npm pack <package>@<version>`, then extracted); rerun it to
update after changing `CDN_FILES`. `popper.js-1.12.9/LICENSE.md` and `vega-5.33.1/LICENSE.md` are written by
hand: those tarballs carry no licence file.

| npm package | folder | tarball | tarball sha256 |
|---|---|---|---|
{rows}

Every vendored file's sha256 (tests/integration/test_data_docs_offline.py checks them):
```
{files}
```
""",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
