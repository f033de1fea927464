"""The book's chapters and their parameters, without a kernel.

A *chapter* is a notebook ``book/<stem>.ipynb`` with one code cell tagged
``parameters`` and a chapter module ``opsense.chapters.<stem>`` holding its
``PRESETS`` and ``check``. Chapters are discovered at run time: first those listed in
``_toc.yml``, in its order, then any other ``book/*.ipynb`` chapter (``in_toc=False``).

The parameters (names, types, defaults, help) come from ``papermill.inspect_notebook``;
the allowed values from the chapter module, through :func:`opsense.configure`, the same
call the notebook makes, so :meth:`Chapter.validate` refuses a wrong value with the
chapter's own rules before any kernel starts.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

__all__ = ["Parameter", "Chapter", "ParameterError", "find_root", "toc_documents", "discover",
           "get_chapter", "load_chapter", "parse_value"]

#: Parameters the runner sets itself.
RESERVED = ("results_dir",)


class ParameterError(ValueError):
    """A chapter name, parameter name or parameter value is refused."""


# ----------------------------------------------------------------------------- the book
def find_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding the book's ``_toc.yml``.

    Looked up in this order: the environment variable ``OPSENSE_BOOK``; ``start``
    (default: the current directory) and its parents; the source tree this package
    was installed from (an editable install of the repository).

    Parameters
    ----------
    start : path, optional

    Raises
    ------
    FileNotFoundError
        If no ``_toc.yml`` is found.
    """
    given = os.environ.get("OPSENSE_BOOK")
    if given:
        root = Path(given).expanduser().resolve()
        if not (root / "_toc.yml").is_file():
            raise FileNotFoundError(f"OPSENSE_BOOK={given}: no _toc.yml there")
        return root
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "book").is_dir():
            return folder
    source = Path(__file__).resolve().parents[2]
    if (source / "_toc.yml").is_file():
        return source
    raise FileNotFoundError("cannot find the book (_toc.yml): run from a clone of the repository "
                            "or set OPSENSE_BOOK to its folder")


def toc_documents(root: str | os.PathLike) -> list[str]:
    """Every document of ``root/_toc.yml`` in reading order, as paths without extension.

    Parameters
    ----------
    root : path
        The folder holding ``_toc.yml``.
    """
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8")) or {}
    docs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    docs.append(node[key])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)

    walk(toc)
    out = []
    for d in docs:
        p = Path(d)
        out.append(str(p.with_suffix("")) if p.suffix in (".md", ".ipynb") else d)
    return out


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Parameter:
    """One parameter of a chapter, as declared in its ``parameters`` cell (read by papermill).

    Attributes
    ----------
    name : str
    type : str
        The annotation as written (``"Optional[int]"``, ``"str"``), or the type
        name of the default when there is no annotation (``""`` if unknown).
    default : object
        The default value (a Python literal).
    default_text : str
        The default as written in the cell.
    help : str
        The comment at the end of the line.
    """

    name: str
    type: str
    default: Any
    default_text: str
    help: str

    def kinds(self) -> frozenset | None:
        """The accepted kinds (``"int"``, ``"float"``, ``"str"``, ``"bool"``, ``"list"``,
        ``"tuple"``, ``"dict"``, ``None``), or ``None`` when anything goes."""
        if not self.type:
            return None
        try:
            node = ast.parse(self.type, mode="eval").body
        except SyntaxError:
            return None
        return _kinds(node)

    def check(self, value):
        """Return ``value`` converted to this parameter's type, or raise :class:`ParameterError`."""
        return _check_kind(self, value, raw=None)


_KIND_NAMES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "list": "list",
               "List": "list", "tuple": "tuple", "Tuple": "tuple", "dict": "dict", "Dict": "dict",
               "None": None, "NoneType": None, "Sequence": "list"}


def _kinds(node) -> frozenset | None:
    if isinstance(node, ast.Constant) and node.value is None:
        return frozenset([None])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            return _kinds(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None
    if isinstance(node, ast.Name):
        if node.id not in _KIND_NAMES:
            return None
        return frozenset([_KIND_NAMES[node.id]])
    if isinstance(node, ast.Attribute):  # typing.Optional etc.
        return _kinds(ast.Name(id=node.attr))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        a, b = _kinds(node.left), _kinds(node.right)
        return None if a is None or b is None else a | b
    if isinstance(node, ast.Subscript):
        base = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        inner = node.slice
        if base == "Optional":
            k = _kinds(inner)
            return None if k is None else k | {None}
        if base == "Union":
            parts = inner.elts if isinstance(inner, ast.Tuple) else [inner]
            out = frozenset()
            for p in parts:
                k = _kinds(p)
                if k is None:
                    return None
                out |= k
            return out
        return _kinds(ast.Name(id=base))
    return None


_KIND_TEXT = {"int": "an integer", "float": "a number", "str": "a string", "bool": "True or False",
              "list": "a list such as [1, 2]", "tuple": "a tuple", "dict": "a dict", None: "None"}


def _describe(kinds) -> str:
    order = ["bool", "int", "float", "str", "list", "tuple", "dict", None]
    return " or ".join(_KIND_TEXT[k] for k in order if k in kinds)


def _check_kind(param: Parameter, value, raw: str | None):
    kinds = param.kinds()
    if kinds is None:
        return value
    if value is None and None in kinds:
        return None
    if isinstance(value, bool):
        if "bool" in kinds:
            return value
    elif isinstance(value, int):
        if "int" in kinds:
            return value
        if "float" in kinds:
            return float(value)
    elif isinstance(value, float):
        if "float" in kinds:
            return value
    elif isinstance(value, (list, tuple)):
        if "list" in kinds:
            return list(value)
        if "tuple" in kinds:
            return tuple(value)
    elif isinstance(value, dict):
        if "dict" in kinds:
            return value
    elif isinstance(value, str):
        if "str" in kinds:
            return value
    if raw is not None:
        low = raw.strip().lower()
        if "bool" in kinds and low in ("true", "false"):
            return low == "true"
        if None in kinds and low in ("none", "null"):
            return None
        if "str" in kinds:
            return raw
        if "float" in kinds:
            try:
                return float(raw)
            except ValueError:
                pass
    hint = ""
    if "list" in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        one = raw.strip() if raw is not None else repr(value)
        hint = f" (for one value write [{one}])"
    shown = raw if raw is not None else repr(value)
    raise ParameterError(f"parameter {param.name} ({param.type}) must be {_describe(kinds)}, "
                         f"got {shown!r}{hint}")


def parse_value(raw: str):
    """Parse a command-line value like papermill's ``-p`` does, plus lists.

    Python literals are evaluated (``20``, ``1e-3``, ``[0.1, 0.05]``, ``"text"``, ``None``,
    ``True``); ``a,b`` is the tuple ``(a, b)``; anything else stays a string.

    Parameters
    ----------
    raw : str
        The value as typed.
    """
    try:
        return ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return raw


def _parameters(path: Path) -> tuple[Parameter, ...]:
    """The parameters of a notebook, from ``papermill.inspect_notebook``."""
    import papermill as pm

    out = []
    for name, info in pm.inspect_notebook(str(path)).items():
        text = str(info.get("default") or "")
        try:
            default = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            default = None
        ann = info.get("inferred_type_name") or ""
        out.append(Parameter(name, "" if ann == "None" else ann, default, text, info.get("help") or ""))
    return tuple(out)


# ----------------------------------------------------------------------------- chapters
@dataclass(frozen=True)
class Chapter:
    """A chapter of the book.

    Attributes
    ----------
    name : str
        The notebook's stem, e.g. ``"rip"``; also the name of its module
        ``opsense.chapters.<name>``.
    path : Path
        The notebook.
    title : str
        The first heading of the notebook.
    parameters : tuple of Parameter
    in_toc : bool
        Whether ``_toc.yml`` lists it.
    """

    name: str
    path: Path
    title: str
    parameters: tuple[Parameter, ...]
    in_toc: bool = True

    @property
    def module(self):
        """The chapter module ``opsense.chapters.<name>``."""
        return importlib.import_module(f"opsense.chapters.{self.name}")

    @property
    def presets(self) -> dict:
        """The chapter's presets (``{"book": {...}, "paper": {...}}``), from its module."""
        return self.module.PRESETS

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name``; :class:`ParameterError` listing the allowed ones if unknown."""
        for p in self.parameters:
            if p.name == name:
                return p
        allowed = [p.name for p in self.parameters if p.name not in RESERVED]
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ParameterError(f"chapter {self.name} has no parameter {name!r}{hint}; "
                             f"its parameters: {', '.join(allowed)}")

    def preset_values(self, name: str) -> dict:
        """``{preset: value}`` of a parameter in the chapter's presets (empty if it has none)."""
        return {p: vals[name] for p, vals in self.presets.items() if name in vals}

    def validate(self, given: dict, *, raw: dict | None = None) -> dict:
        """Check parameter values given by a user, before anything runs.

        Parameters
        ----------
        given : dict
            ``{name: value}``; values may be parsed command-line values.
        raw : dict, optional
            ``{name: text}`` as typed, used to read strings and booleans.

        Returns
        -------
        dict
            The values, converted to the declared types.

        Raises
        ------
        ParameterError
            Naming the chapter, the parameter and what is allowed: unknown parameter,
            value of the wrong type, or a value the chapter refuses
            (:func:`opsense.configure`: its presets' types, then its ``check``).
        """
        from ..config import configure

        raw = raw or {}
        out = {}
        for name, value in given.items():
            if name in RESERVED:
                raise ParameterError(f"parameter {name} is set by the runner (use --out DIR)")
            param = self.parameter(name)
            try:
                out[name] = _check_kind(param, value, raw.get(name))
            except ParameterError as err:
                raise ParameterError(f"chapter {self.name}: {err}") from None
        values = {p.name: p.default for p in self.parameters if p.name not in RESERVED}
        values.update(out)
        preset = values.pop("preset", "book")
        try:
            configure(self.module, preset, **values)
        except ValueError as err:
            raise ParameterError(f"chapter {self.name}: {err}") from None
        return out


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def _has_parameters(nb) -> bool:
    return any(c.cell_type == "code" and "parameters" in c.metadata.get("tags", []) for c in nb.cells)


def load_chapter(path: str | os.PathLike, *, in_toc: bool = True) -> Chapter | None:
    """Read one notebook; ``None`` if it is not a chapter (no parameters cell or no chapter module).

    Parameters
    ----------
    path : path
        A notebook.
    in_toc : bool, keyword-only

    Raises
    ------
    ParameterError
        If the notebook has a parameters cell but ``opsense.chapters.<stem>`` cannot be imported.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    if not _has_parameters(nb):
        return None
    try:
        importlib.import_module(f"opsense.chapters.{path.stem}")
    except ModuleNotFoundError as err:
        if err.name == f"opsense.chapters.{path.stem}":
            raise ParameterError(f"notebook {path.name} has a parameters cell but no chapter module "
                                 f"opsense.chapters.{path.stem}") from None
        raise
    return Chapter(path.stem, path, _title(nb), _parameters(path), in_toc)


def discover(root: str | os.PathLike | None = None) -> list[Chapter]:
    """Every chapter of the book: ``_toc.yml`` order first, then other ``book/*.ipynb`` chapters.

    Parameters
    ----------
    root : path, optional
        The book's root (default: :func:`find_root`).
    """
    root = find_root() if root is None else Path(root)
    seen, chapters = set(), []
    for doc in toc_documents(root):
        path = root / f"{doc}.ipynb"
        if path.is_file() and path not in seen:
            seen.add(path)
            ch = load_chapter(path, in_toc=True)
            if ch is not None:
                chapters.append(ch)
    for path in sorted((root / "book").glob("*.ipynb")):
        if path not in seen:
            ch = load_chapter(path, in_toc=False)
            if ch is not None:
                chapters.append(ch)
    return chapters


def get_chapter(name: str, chapters: list[Chapter]) -> Chapter:
    """The chapter called ``name`` (``rip``, ``rip.ipynb`` or ``book/rip.ipynb``).

    Parameters
    ----------
    name : str
    chapters : list of Chapter

    Raises
    ------
    ParameterError
        Listing the known chapters.
    """
    stem = Path(name).name
    stem = stem[:-len(".ipynb")] if stem.endswith(".ipynb") else stem
    for ch in chapters:
        if ch.name == stem:
            return ch
    names = [c.name for c in chapters]
    close = difflib.get_close_matches(stem, names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ParameterError(f"unknown chapter {name!r}{hint}; known chapters: {', '.join(names) or 'none'}")
