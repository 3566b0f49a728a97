"""Cheap checks of the documentation sources; the Sphinx build itself is not run here.

- every gallery script compiles, has a sphinx-gallery title, and imports only
  names that exist;
- every public name is in the API reference, and every name there exists.
"""

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

import sklearn_boxnn
import sklearn_boxnn.datasets

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
API_RST = ROOT / "docs" / "api.rst"

def test_there_are_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_compiles_and_has_a_title(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    compile(tree, str(path), "exec")
    docstring = ast.get_docstring(tree, clean=False)
    assert docstring, f"{path.name} must start with a docstring (the gallery title)"
    lines = [line for line in docstring.strip("\n").splitlines()]
    # sphinx-gallery needs an RST title: overline, title, underline of '='.
    assert len(lines) >= 3 and set(lines[0]) == {"="} and set(lines[2]) == {"="}, (
        f"{path.name}: the docstring must open with a '='-overlined title"
    )
    assert len(lines[0]) >= len(lines[1]) and len(lines[2]) >= len(lines[1]), (
        f"{path.name}: the title lines must be at least as long as the title"
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_imports_exist(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if not (node.module or "").startswith("sklearn_boxnn"):
            continue
        module = importlib.import_module(node.module)
        for alias in node.names:
            assert hasattr(module, alias.name), (
                f"{path.name} imports {alias.name} from {node.module}, which does not exist"
            )


def documented_names():
    """``module.name`` for every entry of an autosummary list in docs/api.rst."""
    names, module, in_list = set(), None, False
    for line in API_RST.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = m.group(1)
        if line.startswith(".. autosummary::"):
            in_list = True
            continue
        if in_list:
            if line and not line[0].isspace():
                in_list = False
            elif line.strip() and not line.strip().startswith(":"):
                names.add(f"{module}.{line.strip()}")
    return names


def test_api_reference_lists_every_public_name():
    public = {f"sklearn_boxnn.{name}" for name in sklearn_boxnn.__all__}
    public |= {
        f"sklearn_boxnn.datasets.{name}" for name in sklearn_boxnn.datasets.__all__
    }
    missing = sorted(public - documented_names())
    assert not missing, f"add these to an autosummary list in docs/api.rst: {missing}"


def test_api_reference_names_exist():
    for qualified in sorted(documented_names()):
        module, name = qualified.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), (
            f"docs/api.rst lists {qualified}, which does not exist"
        )


@pytest.fixture(scope="module")
def docs_conf():
    """docs/conf.py as a module (it only reads files and imports sklearn_boxnn)."""
    path = ROOT / "docs" / "conf.py"
    spec = importlib.util.spec_from_file_location("docs_conf", path)
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


SOURCE = """\
See :ref:`the example <sphx_glr_auto_examples_plot_x.py>`.

.. image:: /auto_examples/images/sphx_glr_plot_x_001.png
   :alt: a picture

The end.
"""


def drop_gallery_images(conf, plot_gallery):
    config = type("Config", (), {"plot_gallery": plot_gallery})
    app = type("App", (), {"config": config})
    source = [SOURCE]
    conf._drop_gallery_images(app, "index", source)
    return source[0]


def test_conf_keeps_gallery_images_with_gallery(docs_conf):
    assert drop_gallery_images(docs_conf, "True") == SOURCE


def test_conf_drops_gallery_images_without_gallery(docs_conf):
    text = drop_gallery_images(docs_conf, "0")
    assert ".. image::" not in text and ":alt:" not in text
    assert text.startswith("See :ref:`the example") and text.endswith("The end.\n")


def test_architecture_page_names_only_modules_that_exist():
    text = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
    named = set(re.findall(r"``(sklearn_boxnn/[\w/]+\.py)``", text))
    assert len(named) >= 10
    missing = sorted(path for path in named if not (ROOT / path).is_file())
    assert not missing, f"docs/architecture.rst names modules that do not exist: {missing}"


def test_architecture_page_maps_every_module():
    text = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
    modules = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "sklearn_boxnn").rglob("*.py")
        if path.name != "__init__.py"
    )
    unmapped = [m for m in modules if f"``{m}``" not in text]
    assert not unmapped, f"add these modules to docs/architecture.rst: {unmapped}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_uses_no_undefined_name(path):
    # A gallery script only runs in the full docs build; an undefined name
    # (a missing import) would first show there.
    pyflakes_api = pytest.importorskip("pyflakes.api")
    from pyflakes.messages import UndefinedName

    class Collect:
        def __init__(self):
            self.messages = []

        def flake(self, message):
            self.messages.append(message)

        def unexpectedError(self, filename, msg):
            self.messages.append(msg)

        def syntaxError(self, filename, msg, lineno, offset, text):
            self.messages.append(msg)

    reporter = Collect()
    pyflakes_api.check(path.read_text(encoding="utf-8"), str(path), reporter)
    undefined = [str(m) for m in reporter.messages if isinstance(m, UndefinedName)]
    assert not undefined, undefined
