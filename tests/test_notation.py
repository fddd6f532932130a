"""One symbol, one meaning: the pages use the notation page's reserved symbols as it defines.

The notation page's table of symbols reserves each symbol in its first column. Every page
lists here the reserved symbols it uses; a page that starts using a reserved symbol must
be added to that list, after checking that it means what the notation page says. A few
phrases that once gave a reserved symbol a second meaning are refused outright.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
# Text inside math, and the argument of a font command, is not a symbol of its own.
TEXT = re.compile(
    r"\\(?:text|mathrm|operatorname|mathbf|mathbb|mathcal|texttt|textrm|mbox)\s*\{[^{}]*\}"
)
# Subscripts label a symbol (w_A, L_r, \mu_j): the label is not a symbol.
SUBSCRIPT = re.compile(r"_(?:\{[^{}]*\}|\\?[A-Za-z0-9]+)")
# An accented letter is a symbol of its own (Adam's \hat m, a mean \bar w), defined where used.
ACCENTED = re.compile(
    r"\\(?:hat|bar|tilde|widehat|overline)\s*(?:\{[^{}]*\}|\\[a-zA-Z]+|[A-Za-z])"
)
GREEK = re.compile(
    r"\\(alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|kappa|lambda|mu|nu|xi|pi|"
    r"rho|sigma|varsigma|tau|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Pi|Sigma|"
    r"Phi|Psi|Omega|ell)(?![a-zA-Z])"
)
COMMAND = re.compile(r"\\[a-zA-Z]+")
LATIN = re.compile(r"(?<![a-zA-Z])([A-Za-z])(?![a-zA-Z])")


def prose(path: Path) -> str:
    """The Markdown of a page: a .md file whole, the markdown cells of a py:percent page."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return text
    lines, in_markdown = [], False
    for line in text.splitlines():
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line
        elif in_markdown and line.startswith("#"):
            lines.append(line[2:] if line.startswith("# ") else line[1:])
    return "\n".join(lines)


def symbols(markdown: str) -> set[str]:
    """The symbols of the inline and display math of `markdown`: letters and Greek names."""
    found: set[str] = set()
    for match in MATH.finditer(markdown):
        math = ACCENTED.sub(" ", TEXT.sub(" ", match.group(1) or match.group(2)))
        math = SUBSCRIPT.sub(" ", math)
        found |= {"\\" + name for name in GREEK.findall(math)}
        found |= set(LATIN.findall(COMMAND.sub(" ", math)))
    return found


def reserved() -> set[str]:
    """The symbols in the first column of the notation page's table of symbols."""
    text = (DOCS / "notation.md").read_text(encoding="utf-8")
    table = text.split("## Symbols", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| $")]
    return set().union(*(symbols(row.split("|")[1]) for row in rows))


# The reserved symbols each page uses, each checked against the notation page's meaning.
PAGE_SYMBOLS: dict[str, str] = {
    "api.md": r"\varepsilon",
    "bayesian.py": r"D I N \eta \lambda \sigma \tau \theta \varepsilon g k n",
    "beyond-map.py": r"I \beta \lambda \tau \varepsilon b n",
    "classifiers.py": r"I J K N P S T W X Y Z \Delta \ell \eta \lambda \sigma \tau "
    r"\varepsilon b d k n",
    "closed-form.py": r"I J W X Y \alpha \eta \lambda \theta \varepsilon b d k n s v",
    "data-parallel.py": r"A L R \ell \eta \lambda \theta \varepsilon m",
    "decay-cost.py": r"B D N \eta \lambda \tau \theta g m",
    "from-scratch.py": r"J L W X Y \Delta \eta \lambda b d k m n",
    "index.md": r"I J L N W \eta \lambda \sigma \tau \theta",
    "informative-priors.py": r"I N \lambda \sigma \tau \theta n",
    "l2-vs-decay.py": r"A I L X \epsilon \eta \lambda \mu \theta \varepsilon d g n",
    "normalization-layers.py": r"L W \epsilon \eta \lambda \varepsilon g m",
    "overfitting.py": r"I X \alpha \beta \gamma \lambda \tau \varepsilon d n s",
    "shrinkage.py": r"I W X Y \alpha \eta \gamma \lambda \varepsilon d n s v",
}

# Second meanings that reserved symbols once had on the pages, refused outright.
REFUSED = {
    r"relaxation times? \$\\tau": "τ is the prior variance; a relaxation time is t_relax",
    r"precisions? \$\\alpha": "α is scikit-learn's Ridge weight; a prior precision is 1/τ",
    r"learning rate \$\\alpha": "α is the ridge weight; a peak learning rate is η_max",
    r"\$K\$ micro-batches": "K counts classes; micro-batches are A",
    r"\$L\$ layers": "L is the data loss",
    r"batch of \$B\$|\$B\$ (rows|examples)": "B is a bandwidth; rows in a batch are m",
    r"\$n = \\lVert W": "n counts training rows",
    r"\\mu_j|\\sigma_j": "μ is the momentum and σ² the noise variance",
}


def test_scanner_reads_symbols_and_skips_text_and_labels() -> None:
    page = r"A $\tau = 1/(N\lambda)$ and $$w_A + \text{MSE}_{\mathrm{val}} \le L_r$$ here."
    assert symbols(page) == {"\\tau", "N", "\\lambda", "w", "L"}


def test_the_notation_table_reserves_the_core_symbols() -> None:
    assert {"\\tau", "\\lambda", "\\eta", "\\mu", "\\alpha", "N", "n", "m", "K", "L"} <= (
        reserved()
    )


# Every page but the notation page itself, which defines the symbols.
PAGES = sorted(
    p.name for p in DOCS.iterdir() if p.suffix in {".py", ".md"} and p.name != "notation.md"
)


def test_refused_meanings_are_caught() -> None:
    old = "five relaxation times $\\tau$ and a batch of $B$ rows, with $L$ layers"
    assert sum(bool(re.search(pattern, old)) for pattern in REFUSED) == 3


@pytest.mark.parametrize("page", PAGES)
def test_page_gives_no_reserved_symbol_a_refused_meaning(page: str) -> None:
    text = prose(DOCS / page)
    found = [reason for pattern, reason in REFUSED.items() if re.search(pattern, text)]
    assert not found, f"{page}: {found}"


@pytest.mark.parametrize("page", PAGES)
def test_page_uses_only_its_listed_reserved_symbols(page: str) -> None:
    used = symbols(prose(DOCS / page)) & reserved()
    listed = set(PAGE_SYMBOLS.get(page, "").split())
    assert used <= listed, f"{page} uses {sorted(used - listed)}: check their meaning"
    assert listed <= used, f"{page} no longer uses {sorted(listed - used)}"
