"""The docs in the repository stay true to it: ARCHITECTURE.md's map names every folder and only
folders that exist, the README stays short, and no link points outside the repository."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "SECURITY.md", ROOT / "bench" / "RESULTS.md",
        *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "Sources").glob("*/README.md"))]


def architecture_map():
    """The paths that start a line of ARCHITECTURE.md's layout block."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    return [line.split()[0] for line in block.splitlines() if line and not line[0].isspace()]


def test_every_path_in_the_map_exists():
    missing = [p for p in architecture_map() if not (ROOT / p).exists()]
    assert missing == [], f"ARCHITECTURE.md names paths that do not exist: {missing}"


def test_every_folder_is_in_the_map():
    named = {p.rstrip("/") for p in architecture_map()}
    folders = []
    for top in ("Sources", "Tests"):
        for d in sorted((ROOT / top).glob("*")) + sorted((ROOT / top).glob("*/*")):
            rel = d.relative_to(ROOT).as_posix()
            if d.is_dir() and not d.is_symlink() and "__pycache__" not in rel and not rel.startswith("Tests/Fuzz/Corpus") \
                    and not rel.startswith("Sources/CVectorMath/include") and not rel.startswith(".") and "/." not in rel:
                folders.append(rel)
    assert folders, "no folders found"
    unnamed = [f for f in folders if f not in named]
    assert unnamed == [], f"folders missing from ARCHITECTURE.md's map: {unnamed}"


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= 250, f"README.md has {lines} lines; the reference belongs in docs/"


def test_links_stay_inside_the_repository():
    problems = []
    for doc in DOCS:
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                problems.append(f"{doc.relative_to(ROOT)}: {target} points outside the repository")
                continue
            path = target.split("#", 1)[0]
            if path and not (doc.parent / path).resolve().exists():
                problems.append(f"{doc.relative_to(ROOT)}: {target} does not exist")
        for outside in ("../shared", "DESIGN.md", "STYLE.md"):
            if outside in text:
                problems.append(f"{doc.relative_to(ROOT)}: names {outside}, which a clone does not have")
    assert problems == []


def test_sources_do_not_cite_documents_outside_the_repository():
    cited = [str(p.relative_to(ROOT)) for p in (ROOT / "Sources").rglob("*.swift")
             if "DESIGN.md" in (text := p.read_text()) or "STYLE.md" in text]
    assert cited == []


def test_the_configuration_reference_is_generated_from_the_declared_keys(tmp_path):
    """docs/configuration.md's key tables are what `triplegate config-reference` generates from
    the keys' declarations; a stale table, or one without its place, fails."""
    import subprocess
    from conftest import BIN
    doc = ROOT / "docs" / "configuration.md"
    fresh = subprocess.run([BIN, "config-reference", "--check", str(doc)], capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    stale = tmp_path / "configuration.md"
    stale.write_text(doc.read_text().replace("| `listen` | host:port | `0.0.0.0:8080` |", "| `listen` | host:port | `0.0.0.0:80` |", 1))
    checked = subprocess.run([BIN, "config-reference", "--check", str(stale)], capture_output=True, text=True)
    assert checked.returncode == 1 and "stale" in checked.stderr
    subprocess.run([BIN, "config-reference", "--update", str(stale)], check=True)
    assert stale.read_text() == doc.read_text()
    unplaced = tmp_path / "unplaced.md"
    unplaced.write_text(doc.read_text().replace("<!-- keys: admin -->", "<!-- no keys -->", 1))
    missing = subprocess.run([BIN, "config-reference", "--check", str(unplaced)], capture_output=True, text=True)
    assert missing.returncode == 1 and "admin" in missing.stderr
