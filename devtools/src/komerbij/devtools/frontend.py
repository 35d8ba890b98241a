"""The pages' front-end files: npm packages pinned in package.json, copied into the runtime's static folder.

`make install` runs `npm install --no-package-lock` (exact versions, no lock file that would record where they came
from) and then `python -m komerbij.devtools.frontend build`, which copies only what the pages serve into
runtime/src/komerbij/runtime/web/static/vendor/ (git-ignored): the NL Design System's white-label component CSS
(@utrecht/component-library-css), the two variable fonts (Latin subsets) and htmx. Our own theme
(static/komerbij.css) is committed; the browser tests take axe-core straight from node_modules.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from komerbij.devtools.processes import repo_root

# destination under static/vendor/  <-  source under node_modules/
FILES: dict[str, str] = {
    "utrecht/component-library.css": "@utrecht/component-library-css/dist/index.css",
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    **{f"fonts/{name}": f"@fontsource-variable/{family}/files/{name}"
       for family, names in {
           "source-sans-3": ["source-sans-3-latin-wght-normal.woff2", "source-sans-3-latin-ext-wght-normal.woff2",
                             "source-sans-3-latin-wght-italic.woff2"],
           "nunito": ["nunito-latin-wght-normal.woff2", "nunito-latin-ext-wght-normal.woff2"],
       }.items() for name in names},
}
LICENSES = {
    "utrecht/LICENSE.md": "@utrecht/component-library-css/LICENSE.md",
    "fonts/LICENSE-source-sans-3": "@fontsource-variable/source-sans-3/LICENSE",
    "fonts/LICENSE-nunito": "@fontsource-variable/nunito/LICENSE",
    "LICENSE-htmx": "htmx.org/LICENSE",
}


def node_modules() -> Path:
    return repo_root() / "node_modules"


def vendor_dir() -> Path:
    return repo_root() / "runtime" / "src" / "komerbij" / "runtime" / "web" / "static" / "vendor"


def axe_script() -> Path:
    """axe-core for the browser tests (injected into each page)."""
    return node_modules() / "axe-core" / "axe.min.js"


def build() -> list[str]:
    """Copy the served files; returns the problems (missing files: run `make install`)."""
    missing = [src for src in FILES.values() if not (node_modules() / src).is_file()]
    if missing:
        return [f"node_modules lacks {m}: run `make install` (npm install)" for m in missing]
    target = vendor_dir()
    shutil.rmtree(target, ignore_errors=True)
    for dest, src in {**FILES, **LICENSES}.items():
        source = node_modules() / src
        if not source.is_file():
            continue  # a package without a licence file of that name: the served files still go
        (target / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / dest)
    return []


def built() -> bool:
    return all((vendor_dir() / dest).is_file() for dest in FILES)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["build"]:
        print("usage: python -m komerbij.devtools.frontend build", file=sys.stderr)
        return 2
    problems = build()
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"front-end files copied to {vendor_dir().relative_to(repo_root())}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
