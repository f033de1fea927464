"""Sphinx extension of the book: the "Reproduction report" page, built from data at build time.

``{opsense-report} PART`` (PART: ``summary``, ``counts``, ``claims`` or ``record``) renders
one piece of :class:`opsense.tools.report.BookReport`: the claims that the committed chapters
display (read from their claims bundles) and the record of the last full re-run
(``book/reproduction.json``). The page declares every chapter notebook and the record as
dependencies (``env.note_dependency``), so editing any of them rebuilds the page: it cannot
go stale.

``{opsense-verdict}`STEM``` (a role) shows the verdicts of one chapter's committed claims
("12 hold, 1 does not reproduce"), and ``{opsense-teaser} STEM FIGURE`` (a directive, its content
the caption) shows a figure of a committed chapter: the PNG output of the cell that saves
``FIGURE``. Both read the committed notebook and declare it a dependency of the page.

``{opsense-build}`` states the version of the package and the commit the site was built from
(``build_identity``), for the "How to cite" page; the page is re-read on every build.

Configuration (``_config.yml`` -> ``sphinx: config:``): ``opsense_book_root`` (default: the
source folder) and ``opsense_record`` (default: ``book/reproduction.json`` under the root).
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

__all__ = ["setup", "ClaimsMimeRenderer", "build_identity", "verdict_text", "teaser_png"]

PARTS = ("summary", "counts", "claims", "record")


class ReportDirective(SphinxDirective):
    """``{opsense-report} PART``: one part of the reproduction report."""

    required_arguments = 1
    has_content = False

    def run(self):
        from .report import BookReport

        part = self.arguments[0].strip()
        if part not in PARTS:
            raise self.error(f"opsense-report takes one of {', '.join(PARTS)}, got {part!r}")
        root = Path(self.config.opsense_book_root or self.env.srcdir)
        record = self.config.opsense_record
        report = BookReport(root=root, record_path=(root / record) if record else None)
        for path in report.sources:
            self.env.note_dependency(str(Path(path).resolve()))
        if part == "summary":
            para = nodes.paragraph()
            para += nodes.strong(text=report.summary)
            return [para]
        html = {"counts": report.counts_html, "claims": report.claims_html, "record": report.record_html}[part]()
        return [nodes.raw("", html, format="html")]


def build_identity(root) -> tuple[str, str]:
    """The version of ``opsense`` and the commit of ``root``, as the build states them.

    The commit is the environment variable ``OPSENSE_BUILD_COMMIT`` when set (the Makefile sets it for
    every build, and its footer line names the same commit), otherwise
    ``git rev-parse HEAD`` of ``root``, with ``" + local changes"`` when tracked files differ from it.

    Parameters
    ----------
    root : path
        The repository (the book's source folder).

    Returns
    -------
    tuple of str
        ``(version, commit)``; ``commit`` is ``"unknown (not built from a git clone)"`` without git.
    """
    import os
    import subprocess

    from .. import __version__

    given = os.environ.get("OPSENSE_BUILD_COMMIT", "").strip()
    if given:
        return __version__, given
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__, "unknown (not built from a git clone)"
    return __version__, head + (" + local changes" if dirty else "")


class BuildDirective(SphinxDirective):
    """``{opsense-build}``: "Built from version V, commit C." (re-read on every build)."""

    has_content = False

    def run(self):
        self.env.note_reread()
        version, commit = build_identity(self.config.opsense_book_root or self.env.srcdir)
        para = nodes.paragraph()
        para += nodes.Text("This site was built from version ")
        para += nodes.strong(text=version)
        para += nodes.Text(" of the companion, commit ")
        para += nodes.literal(text=commit)
        para += nodes.Text(".")
        return [para]


def _notebook(root, stem: str):
    import nbformat

    path = Path(root) / "book" / f"{stem}.ipynb"
    if not path.is_file():
        raise ValueError(f"no chapter notebook book/{stem}.ipynb")
    return path, nbformat.read(path, as_version=4)


def verdict_text(root, stem: str) -> tuple[str, str]:
    """``(text, css class)`` of a chapter's committed verdicts.

    Parameters
    ----------
    root : path
        The repository (holding ``book/``).
    stem : str
        The chapter.

    Returns
    -------
    tuple of str
        ``("12 claims hold", "opsense-holds")``, ``("11 hold, 1 does not reproduce", "opsense-dnr")``,
        or a text naming failures (class ``"opsense-fails"``).
    """
    from .report import committed_claims

    _, nb = _notebook(root, stem)
    claims, err = committed_claims(nb, source=f"book/{stem}.ipynb")
    if err or not claims:
        return f"no valid claims ({err or 'none'})", "opsense-fails"
    held = sum(c.verdict == "holds" for c in claims)
    dnr = sum(c.verdict == "does not reproduce" for c in claims)
    failed = len(claims) - held - dnr
    if failed:
        return f"{failed} of {len(claims)} claims FAIL", "opsense-fails"
    if dnr:
        return f"{held} hold, {dnr} {'does' if dnr == 1 else 'do'} not reproduce", "opsense-dnr"
    return f"{held} claims hold", "opsense-holds"


def teaser_png(root, stem: str, figure: str) -> bytes:
    """The PNG that a committed chapter shows for the cell saving ``figure``.

    Parameters
    ----------
    root : path
    stem : str
    figure : str
        The name the cell passes to ``opsense.plotting.save``.

    Raises
    ------
    ValueError
        If no code cell names ``figure`` or it shows no PNG.
    """
    import base64

    _, nb = _notebook(root, stem)
    for cell in nb.cells:
        if cell.cell_type == "code" and f'"{figure}"' in cell.source:
            for out in cell.get("outputs", []):
                data = (out.get("data") or {}).get("image/png")
                if data:
                    return base64.b64decode(data)
            raise ValueError(f"the cell of {figure!r} in book/{stem}.ipynb shows no PNG")
    raise ValueError(f"no cell of book/{stem}.ipynb saves a figure {figure!r}")


def _root(env) -> Path:
    return Path(env.config.opsense_book_root or env.srcdir)


def verdict_role(name, rawtext, text, lineno, inliner, options=None, content=()):
    """``{opsense-verdict}`STEM```: the chapter's committed verdicts, as a small badge."""
    env = inliner.document.settings.env
    stem = text.strip()
    try:
        env.note_dependency(str((_root(env) / "book" / f"{stem}.ipynb").resolve()))
        label, cls = verdict_text(_root(env), stem)
    except ValueError as err:
        msg = inliner.reporter.error(f"opsense-verdict: {err}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.inline(rawtext, label, classes=["opsense-verdict", cls])], []


class TeaserDirective(SphinxDirective):
    """``{opsense-teaser} STEM FIGURE``: a committed chapter's figure, with the content as caption."""

    required_arguments = 2
    has_content = True

    def run(self):
        import base64
        import html

        stem, figure = self.arguments
        try:
            self.env.note_dependency(str((_root(self.env) / "book" / f"{stem}.ipynb").resolve()))
            png = teaser_png(_root(self.env), stem, figure)
        except ValueError as err:
            raise self.error(f"opsense-teaser: {err}") from None
        caption = html.escape(" ".join(self.content).strip())
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        raw = (f'<figure class="opsense-teaser"><img src="{uri}" alt="{caption}" style="max-width:100%;height:auto">'
               f"<figcaption>{caption}</figcaption></figure>")
        return [nodes.raw("", raw, format="html")]


class RobustnessDirective(SphinxDirective):
    """``{opsense-robustness} PART``: one part of the Robustness page, from ``book/robustness.json``
    (PART: ``summary``, ``cost``, ``figure``, ``weak``, ``missing`` or ``table``)."""

    required_arguments = 1
    has_content = False
    PARTS = ("summary", "cost", "figure", "weak", "missing", "table")

    def run(self):
        import base64

        from . import robustness as rb

        part = self.arguments[0].strip()
        if part not in self.PARTS:
            raise self.error(f"opsense-robustness takes one of {', '.join(self.PARTS)}, got {part!r}")
        root = _root(self.env)
        for name in (rb.SPEC, rb.RECORD):
            self.env.note_dependency(str((root / name).resolve()))
        try:
            spec, record = rb.load_spec(root), rb.read_record(root / rb.RECORD)
        except rb.RobustnessError as err:
            raise self.error(f"opsense-robustness: {err}") from None
        if part == "summary":
            return [nodes.paragraph(text=rb.page_summary(record, spec))]
        if part == "cost":
            for path in (root / "book").glob("reproduction*.json"):
                self.env.note_dependency(str(path.resolve()))
            return [nodes.paragraph(text=rb.page_cost(root, spec))]
        if part == "figure":
            png = rb.page_figure(record)
            if png is None:
                return [nodes.paragraph(text="(The figure appears once a sweep is recorded.)")]
            uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            return [nodes.raw("", f'<img class="opsense-robustness-figure" src="{uri}" '
                                  'alt="Pass rate of every claim with its 95% interval" style="max-width:100%;height:auto">',
                              format="html")]
        html = {"weak": rb.page_weak, "table": rb.page_table}.get(part)
        return [nodes.raw("", html(record) if html else rb.page_missing(record, spec), format="html")]


class ClaimsMimeRenderer:
    """myst-nb mime renderer plugin (entry point ``myst_nb.mime_renderers``) for the claims bundle.

    A chapter's claims output carries the rounded table (``text/html``, ``text/plain``) and the
    claims as data (``opsense.claims.MIME_TYPE``). The data is for tools, not for the page:
    this plugin renders it as nothing (instead of a "skipping unknown output mime type"
    warning), and the table is shown.
    """

    mime_priority_overrides = ()

    @staticmethod
    def handle_mime(renderer, data, inline):
        """Render nothing for the claims bundle; decline every other mime type.

        Parameters
        ----------
        renderer : myst_nb.core.render.NbElementRenderer
        data : myst_nb.core.render.MimeData
        inline : bool

        Returns
        -------
        list or None
            ``[]`` for the claims bundle, ``None`` (not handled here) otherwise.
        """
        from ..claims import MIME_TYPE

        return [] if data.mime_type == MIME_TYPE else None


def setup(app):
    """Register the directive and its configuration values.

    Parameters
    ----------
    app : sphinx.application.Sphinx
    """
    app.add_config_value("opsense_book_root", "", "env")
    app.add_config_value("opsense_record", "", "env")
    app.add_directive("opsense-report", ReportDirective)
    app.add_directive("opsense-build", BuildDirective)
    app.add_directive("opsense-teaser", TeaserDirective)
    app.add_role("opsense-verdict", verdict_role)
    app.add_directive("opsense-robustness", RobustnessDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
