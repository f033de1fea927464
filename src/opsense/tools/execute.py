"""Re-execute book chapters in place: ``python -m opsense.tools.execute book/NAME.ipynb ...``.

For maintainers (``make execute``). Each notebook runs top to bottom in a fresh
``python3`` kernel, with the notebook's folder as working directory and 600 s per
cell. The kernelspec that ipykernel installs into the environment runs ``python``,
which jupyter_client replaces by this interpreter (``sys.executable``). Papermill metadata is removed; a notebook holding papermill's
``injected-parameters`` cell is refused (run papermill outside ``book/``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: str | Path, *, timeout: int = 600) -> None:
    """Execute the notebook at ``path`` and write it back with its new outputs."""
    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"path must be an existing .ipynb file, got {str(path)!r}")
    nb = nbformat.read(path, as_version=4)
    if any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells):
        raise ValueError(f"path {str(path)!r} holds papermill's injected-parameters cell; "
                         "restore the chapter from git instead of executing it")
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.resolve().parent)}}).execute()
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                          "language": "python"})
    nbformat.validate(nb)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opsense.tools.execute", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK.ipynb")
    args = parser.parse_args(argv)
    for nb in args.notebooks:
        try:
            execute(nb)
        except ValueError as err:
            parser.error(str(err))
        print(f"executed {nb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
