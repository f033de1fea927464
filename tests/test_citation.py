"""Citation metadata: CITATION.cff is valid CFF 1.2.0, and one version is cited everywhere."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from pybtex.database import parse_string

import opsense

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "data" / "citation-cff-1.2.0.schema.json"
SCHEMA_SHA256 = "0b8d22140da702d766df318dcff3a91af2f39521298dcf36d76315fd99cc169b"  # see tests/data/README.md
CITE_PAGE = ROOT / "book" / "how_to_cite.md"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
DOI_A, DOI_B = "10.1109/TIT.2025.3530335", "10.48550/arXiv.2310.01769"


class _CffLoader(yaml.SafeLoader):
    """YAML as CFF tools read it: dates stay strings (the schema wants strings)."""


_CffLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load_cff(text: str) -> dict:
    return yaml.load(text, Loader=_CffLoader)


def cff_errors(doc: dict) -> list[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(doc)]


CFF_TEXT = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
CFF = load_cff(CFF_TEXT)


def bibtex_blocks(text: str) -> str:
    return "\n".join(re.findall(r"```bibtex\n(.*?)```", text, re.S))


BIB = parse_string(bibtex_blocks(CITE_PAGE.read_text(encoding="utf-8")), "bibtex")


def test_schema_is_the_vendored_cff_1_2_0_schema():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA.read_text())["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"


def test_citation_cff_is_valid_cff_1_2_0():
    assert CFF["cff-version"] == "1.2.0"
    assert cff_errors(CFF) == []


@pytest.mark.parametrize("edit, where", [
    (lambda d: d.update(type="program"), "type"),
    (lambda d: d.pop("authors"), "authors"),
    (lambda d: d["references"][0].update(doi="not a doi"), "references/0/doi"),
    (lambda d: d.update(version=None), "version"),
])
def test_the_validation_catches_broken_metadata(edit, where):
    """The schema check is not vacuous: a broken copy of the file is refused."""
    doc = load_cff(CFF_TEXT)
    edit(doc)
    errors = cff_errors(doc)
    assert any(e.startswith(where) or where in e for e in errors), errors


def test_citation_describes_the_software_and_both_papers():
    assert CFF["type"] == "software" and "preferred-citation" not in CFF
    assert CFF["repository-code"] == "https://github.com/opsense-companion/opsense"
    refs = {r["doi"]: r for r in CFF["references"]}
    assert set(refs) >= {DOI_A, DOI_B}
    assert refs[DOI_A]["authors"][0]["family-names"] == "Soltanolkotabi"
    assert refs[DOI_B]["authors"][0]["family-names"] == "Xiong"


def test_one_version_everywhere():
    """pyproject.toml is the source; CITATION.cff, the BibTeX entries and the package agree."""
    assert str(CFF["version"]) == VERSION
    software = BIB.entries["opsense_companion"]
    assert software.type == "software" and software.fields["version"] == VERSION
    assert BIB.entries["opsense_companion_misc"].fields["note"] == f"Version {VERSION}"
    assert f"version **{VERSION}**" in CITE_PAGE.read_text(encoding="utf-8")
    assert opsense.__version__ == VERSION, "reinstall the package (make install) after changing the version"


def test_cite_page_entries_match_the_bibliography():
    """The papers' entries on the "How to cite" page are those of book/references.bib."""
    refs = parse_string((ROOT / "book" / "references.bib").read_text(encoding="utf-8"), "bibtex")
    papers = [k for k in BIB.entries if not k.startswith("opsense_")]
    assert {"soltanolkotabi2025implicit", "xiong2024how"} <= set(papers)
    for key in papers:
        a, b = BIB.entries[key], refs.entries[key]
        assert a.type == b.type and dict(a.fields) == dict(b.fields), key
        assert [str(p) for p in a.persons["author"]] == [str(p) for p in b.persons["author"]], key
    dois = {BIB.entries[k].fields.get("doi") for k in papers}
    assert {DOI_A, DOI_B} <= dois


def test_companion_entry_matches_citation_cff():
    software = BIB.entries["opsense_companion"]
    assert software.fields["title"] == CFF["title"]
    assert software.fields["url"] == CFF["repository-code"]
    assert str(software.persons["author"][0]).strip("{}") == CFF["authors"][0]["name"]


def test_release_workflow_attaches_the_site_with_its_checksum():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as True
    assert on == {"push": {"tags": ["v*"]}}
    assert wf["permissions"] == {"contents": "write"}
    script = "\n".join(s.get("run", "") for s in wf["jobs"]["release"]["steps"])
    for needed in ("make test", "make clean", "make book", "make reproduce", "tar ", "sha256sum",
                   "gh release create", "pyproject.toml", "CITATION.cff"):
        assert needed in script, f"release workflow: no {needed!r}"


ZENODO = json.loads((ROOT / ".zenodo.json").read_text(encoding="utf-8"))


def _cff_dois(doc: dict) -> set[str]:
    out = set()
    for ref in doc["references"]:
        out.add(ref.get("doi"))
        out |= {i["value"] for i in ref.get("identifiers", []) if i["type"] == "doi"}
    return out - {None}


def test_zenodo_metadata_agrees_with_citation_cff():
    """Zenodo reads .zenodo.json (it takes precedence over CITATION.cff): the two must say the same."""
    assert ZENODO["upload_type"] == "software"
    assert ZENODO["title"] == CFF["title"] and ZENODO["version"] == str(CFF["version"]) == VERSION
    assert [c["name"] for c in ZENODO["creators"]] == [a["name"] for a in CFF["authors"]]
    assert ZENODO["license"] in CFF["license"]
    assert set(ZENODO["keywords"]) == set(CFF["keywords"])
    assert " ".join(ZENODO["description"].split()) == " ".join(CFF["abstract"].split())
    related = {r["identifier"] for r in ZENODO["related_identifiers"]}
    assert _cff_dois(CFF) <= related and CFF["repository-code"] in related
    assert all(r["relation"] == "isSupplementTo" for r in ZENODO["related_identifiers"])


def _label(entry) -> str:
    """The author-year label the site shows: "Surname et al., year" (two authors: "A and B")."""
    names = [p.last_names[0] for p in entry.persons["author"]]
    who = names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al."
    return f"{who}, {entry.fields['year']}"


def test_every_citation_label_names_one_entry():
    refs = parse_string((ROOT / "book" / "references.bib").read_text(encoding="utf-8"), "bibtex")
    labels: dict[str, list[str]] = {}
    for key, entry in refs.entries.items():
        labels.setdefault(_label(entry), []).append(key)
    clashes = {label: keys for label, keys in labels.items() if len(keys) > 1}
    assert not clashes, f"these entries would be cited with the same label: {clashes}"
    assert _label(refs.entries["soltanolkotabi2023implicit_arxiv"]) != _label(refs.entries["soltanolkotabi2023implicit"])
