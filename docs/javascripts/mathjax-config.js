// MathJax 3, typeset locally (SVG output: no web fonts to fetch).
// Markdown pages reach it through pymdownx.arithmatex as \( \) and \[ \];
// notebook pages keep TeX's $ and $$ delimiters, so both pairs are enabled.
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: "tex2jax_ignore",
    processHtmlClass: "tex2jax_process|arithmatex",
  },
  svg: { fontCache: "global" },
};
