"""The book's chapters and their parameters, read from the notebooks themselves.

A *chapter* is a notebook of the book (``book/<name>.ipynb``) with one code cell
tagged ``parameters`` and a claims check (:func:`opsense.check_claims`). Chapters
are discovered at run time: first those listed in ``_toc.yml``, in its order, then
any other ``book/*.ipynb`` chapter (flagged ``in_toc=False``).

The ``parameters`` cell is parsed with Python's ``ast`` module (no kernel): each assignment
``name: type = default  # help`` gives a :class:`Parameter`. The cell after it
usually validates the values with :func:`opsense.configure` and a ``PRESETS``
dict; when that dict is a plain literal it is extracted too, so that
:meth:`Chapter.validate` can refuse a wrong value with the chapter's own rules
before any kernel starts.
"""

from __future__ import annotations

import ast
import difflib
import io
import operator
import os
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

__all__ = ["Parameter", "Chapter", "ParameterError", "find_root", "toc_documents", "discover",
           "get_chapter", "parse_parameters", "parse_value"]

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
    """Every document of ``root/_toc.yml`` in reading order, as paths without extension."""
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
    """One parameter of a chapter, as declared in its ``parameters`` cell.

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
    """
    try:
        return ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return raw


def _comments(source: str) -> dict[int, str]:
    out = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return out


def parse_parameters(source: str) -> list[Parameter]:
    """The parameters declared in the source of a ``parameters`` cell.

    Every top-level ``name: type = default`` or ``name = default`` with a literal
    default is a parameter; its help text is the comment on the same line.

    Raises
    ------
    ValueError
        If the source is not valid Python.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"the parameters cell is not valid Python: {err}") from None
    comments = _comments(source)
    params = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, ann, value = node.target.id, ast.get_source_segment(source, node.annotation), node.value
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            name, ann, value = node.targets[0].id, "", node.value
        else:
            continue
        text = ast.get_source_segment(source, value) or ""
        try:
            default = ast.literal_eval(value)
        except ValueError:
            default = None
        if not ann and default is not None:
            ann = type(default).__name__
        params.append(Parameter(name, ann or "", default, text, comments.get(node.end_lineno, "")))
    return params


# ----------------------------------------------------------------------------- presets
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
           ast.Mod: operator.mod}


class _NotLiteral(Exception):
    pass


def _literal(node, env: dict):
    """Evaluate literals, arithmetic, ``dict(k=v)``/``list(...)`` and names bound in ``env``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_literal(e, env) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _NotLiteral
        return {_literal(k, env): _literal(v, env) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        x = _literal(node.operand, env)
        return -x if isinstance(node.op, ast.USub) else +x
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _literal(node.left, env), _literal(node.right, env)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 1000:
            raise _NotLiteral
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.ListComp) and len(node.generators) == 1:
        gen = node.generators[0]
        if not isinstance(gen.target, ast.Name) or gen.ifs or gen.is_async:
            raise _NotLiteral
        items = _literal(gen.iter, env)
        if len(items) > 10_000:
            raise _NotLiteral
        return [_literal(node.elt, {**env, gen.target.id: x}) for x in items]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        args = [_literal(a, env) for a in node.args]
        if node.keywords or not all(isinstance(a, int) for a in args):
            raise _NotLiteral
        return range(*args)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("dict", "list", "tuple"):
        if node.func.id == "dict":
            if node.args or any(k.arg is None for k in node.keywords):
                raise _NotLiteral
            return {k.arg: _literal(k.value, env) for k in node.keywords}
        if len(node.args) != 1 or node.keywords:
            raise _NotLiteral
        return {"list": list, "tuple": tuple}[node.func.id](_literal(node.args[0], env))
    raise _NotLiteral


@dataclass(frozen=True)
class _Configure:
    """What a chapter's ``configure(preset, PRESETS, ...)`` call needs, extracted statically."""

    presets: dict
    preset_param: str | None          # the parameter passed as the preset name
    keywords: dict                    # configure keyword -> chapter parameter name


def _find_configure(sources: list[str]) -> _Configure | None:
    env: dict = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    env[node.targets[0].id] = _literal(node.value, env)
                except (_NotLiteral, TypeError, ArithmeticError):
                    env.pop(node.targets[0].id, None)
            for call in ast.walk(node):
                if not (isinstance(call, ast.Call) and len(call.args) >= 2):
                    continue
                f = call.func
                fname = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if fname != "configure":
                    continue
                try:
                    presets = _literal(call.args[1], env)
                except (_NotLiteral, TypeError, ArithmeticError):
                    return None
                if not isinstance(presets, dict) or not all(isinstance(v, dict) for v in presets.values()):
                    return None
                preset_param = call.args[0].id if isinstance(call.args[0], ast.Name) else None
                keywords = {k.arg: k.value.id for k in call.keywords
                            if k.arg and k.arg != "results_dir" and isinstance(k.value, ast.Name)}
                return _Configure(presets, preset_param, keywords)
    return None


# ----------------------------------------------------------------------------- chapters
@dataclass(frozen=True)
class Chapter:
    """A chapter of the book.

    Attributes
    ----------
    name : str
        The notebook's stem, e.g. ``"rip"``.
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
    _configure: _Configure | None = field(default=None, repr=False, compare=False)

    @property
    def presets(self) -> dict | None:
        """The chapter's presets (``{"book": {...}, "paper": {...}}``) if they could be read."""
        return None if self._configure is None else self._configure.presets

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
        """``{preset: value}`` of a parameter in the chapter's presets (empty if unknown)."""
        if self._configure is None:
            return {}
        key = next((k for k, v in self._configure.keywords.items() if v == name), None)
        if key is None:
            return {}
        return {p: vals[key] for p, vals in self._configure.presets.items() if key in vals}

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
            Naming the chapter, the parameter and what is allowed: unknown
            parameter, value of the wrong type, or a value the chapter's presets
            refuse (through :func:`opsense.configure`).
        """
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
        values = {p.name: p.default for p in self.parameters}
        values.update(out)
        seed = values.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool) and seed < 0:
            raise ParameterError(f"parameter seed must be an integer >= 0, got {seed}")
        if self._configure is not None:
            from .config import configure  # the chapter's own validation, without a kernel

            cfg = self._configure
            preset = values.get(cfg.preset_param, "book") if cfg.preset_param else "book"
            kwargs = {k: values[v] for k, v in cfg.keywords.items() if v in values}
            try:
                configure(preset, cfg.presets, **kwargs)
            except ValueError as err:
                msg = str(err)
                for k, v in cfg.keywords.items():  # speak of the chapter's names
                    if k != v:
                        msg = msg.replace(f"parameter {k} ", f"parameter {v} ")
                raise ParameterError(f"chapter {self.name}: {msg}") from None
        return out


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def _is_chapter(nb) -> tuple[int, bool]:
    """(index of the parameters cell or -1, whether some code cell checks claims)."""
    index = next((i for i, c in enumerate(nb.cells)
                  if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])), -1)
    claims = any(c.cell_type == "code" and "check_claims" in c.source for c in nb.cells)
    return index, claims


def load_chapter(path: str | os.PathLike, *, in_toc: bool = True) -> Chapter | None:
    """Read one notebook; ``None`` if it is not a chapter (no parameters cell or no claims)."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    index, claims = _is_chapter(nb)
    if index < 0 or not claims:
        return None
    params = tuple(parse_parameters(nb.cells[index].source))
    later = [c.source for c in nb.cells[index + 1:] if c.cell_type == "code"]
    return Chapter(path.stem, path, _title(nb), params, in_toc, _find_configure(later))


def discover(root: str | os.PathLike | None = None) -> list[Chapter]:
    """Every chapter of the book: ``_toc.yml`` order first, then other ``book/*.ipynb`` chapters."""
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
