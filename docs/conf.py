"""Sphinx configuration of the sklearn-boxnn documentation.

Build (from the repository root, offline, warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery in ``examples/`` runs during the build (a few minutes on two CPU
cores); ``-D plot_gallery=0`` skips running it.
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
EXAMPLES = ROOT / "examples"

# Document the checkout next to this file, installed or not.
sys.path.insert(0, str(ROOT))
# The gallery runs headless, and on one thread: the digits models are too small
# for more threads to pay off on a shared machine.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sklearn_boxnn  # noqa: E402

project = "sklearn-boxnn"
author = "sklearn-boxnn developers"
copyright = "sklearn-boxnn developers"
version = release = sklearn_boxnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# No intersphinx: the build must work offline without warnings.

templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-boxnn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_static_path = []
html_show_sourcelink = True


sphinx_gallery_conf = {
    "examples_dirs": str(EXAMPLES),
    "gallery_dirs": "auto_examples",
    "filename_pattern": re.escape(os.sep) + "plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_boxnn",),
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "abort_on_example_error": False,
    "matplotlib_animations": False,
    "min_reported_time": 1,
    # A failing example must fail the build, not just show a traceback.
    "only_warn_on_example_error": False,
}


# Pictures that example scripts draw, shown in the user guide.
_GALLERY_IMAGE = (
    r"(?m)^\.\. (?:image|figure):: /auto_examples/images/sphx_glr_{name}_\d+\.png"
    r"\n(?:(?:[ \t]+\S.*)?\n)*"
)


def _drop_gallery_images(app, docname, source):
    """Remove gallery pictures from the user guide when the gallery is not run.

    With ``-D plot_gallery=0`` the examples' images are never drawn, and
    references to them would be warnings.
    """
    if str(app.config.plot_gallery).lower() in ("0", "false", "no", "off", ""):
        source[0] = re.sub(_GALLERY_IMAGE.format(name=r"\w+"), "", source[0])


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods.

    Their docstrings link to scikit-learn's glossary and user guide, which this
    offline build cannot resolve; they behave as in every scikit-learn estimator.
    """
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return skip


def setup(app):
    app.connect("source-read", _drop_gallery_images)
    app.connect("autodoc-skip-member", _skip_metadata_requests)
