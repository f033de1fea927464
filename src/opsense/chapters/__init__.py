"""One module per chapter of the book, named like its notebook (``book/<stem>.ipynb``).

Each chapter module holds the chapter's ``PRESETS`` (plain data), ``check(P)`` (refuses
every infeasible parameter with a ``ValueError`` naming it), the experiment functions
(returning dataclasses), ``claims(...)`` (the chapter's claims) and its ``plot_*``
functions. A chapter module imports the engine and the toolkit, never another chapter.
"""
