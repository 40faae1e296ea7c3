"""Unicode characters of rendered math and the TeX that writes them."""

FUNCTIONS = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth log ln lg exp lim liminf limsup max min "
    "sup inf det dim gcd lcm deg arg ker hom Pr mod".split()
)

_GREEK = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
          "upsilon phi chi psi omega").split()

SYMBOLS: dict[str, str] = {
    **{chr(0x3B1 + i): "\\" + name for i, name in enumerate(_GREEK) if name != "omicron" and i < 17},
    **{chr(0x3C3 + i): "\\" + name for i, name in enumerate(_GREEK[17:])},
    "ε": "\\varepsilon", "ϵ": "\\epsilon", "ϑ": "\\vartheta", "ϕ": "\\phi", "φ": "\\varphi", "ϱ": "\\varrho",
    "ς": "\\varsigma", "ο": "o",
    "Γ": "\\Gamma", "Δ": "\\Delta", "Θ": "\\Theta", "Λ": "\\Lambda", "Ξ": "\\Xi", "Π": "\\Pi", "Σ": "\\Sigma",
    "Υ": "\\Upsilon", "Φ": "\\Phi", "Ψ": "\\Psi", "Ω": "\\Omega",
    "−": "-", "∗": "*", "×": "\\times", "÷": "\\div", "⋅": "\\cdot", "·": "\\cdot", "±": "\\pm", "∓": "\\mp",
    "≤": "\\le", "≥": "\\ge", "≠": "\\ne", "≈": "\\approx", "≡": "\\equiv", "∼": "\\sim", "≅": "\\cong",
    "∝": "\\propto", "≪": "\\ll", "≫": "\\gg", "⩽": "\\leqslant", "⩾": "\\geqslant",
    "∈": "\\in", "∉": "\\notin", "∋": "\\ni", "⊂": "\\subset", "⊃": "\\supset", "⊆": "\\subseteq",
    "⊇": "\\supseteq", "∪": "\\cup", "∩": "\\cap", "∅": "\\emptyset", "∖": "\\setminus",
    "∀": "\\forall", "∃": "\\exists", "¬": "\\neg", "∧": "\\wedge", "∨": "\\vee", "⊕": "\\oplus", "⊗": "\\otimes",
    "→": "\\to", "←": "\\leftarrow", "↔": "\\leftrightarrow", "⇒": "\\Rightarrow", "⇐": "\\Leftarrow",
    "⇔": "\\Leftrightarrow", "↦": "\\mapsto", "⟹": "\\implies", "⟺": "\\iff", "↑": "\\uparrow", "↓": "\\downarrow",
    "∑": "\\sum", "∏": "\\prod", "∫": "\\int", "∬": "\\iint", "∮": "\\oint", "√": "\\surd", "∂": "\\partial",
    "∇": "\\nabla", "∞": "\\infty", "ℓ": "\\ell", "ℏ": "\\hbar", "ℜ": "\\Re", "ℑ": "\\Im", "ℵ": "\\aleph",
    "∠": "\\angle", "△": "\\triangle", "⊥": "\\perp", "∥": "\\parallel", "∣": "\\mid", "°": "^\\circ",
    "∘": "\\circ", "′": "'", "″": "''", "…": "\\ldots", "⋯": "\\cdots", "⋮": "\\vdots", "⋱": "\\ddots",
    "□": "\\square", "◻": "\\square", "★": "\\star", "⋆": "\\star", "†": "\\dagger", "⌊": "\\lfloor", "⌋": "\\rfloor",
    "⌈": "\\lceil", "⌉": "\\rceil", "⟨": "\\langle", "⟩": "\\rangle", "‖": "\\|", "{": "\\{", "}": "\\}",
    "ℝ": "\\mathbb{R}", "ℕ": "\\mathbb{N}", "ℤ": "\\mathbb{Z}", "ℚ": "\\mathbb{Q}", "ℂ": "\\mathbb{C}",
    "%": "\\%", "#": "\\#", "&": "\\&", "$": "\\$", "\\": "\\backslash",
    # invisible operators and spaces carry no ink
    "\u2061": "", "\u2062": "", "\u2063": "", "\u2064": "", "\u200b": "", "\u00a0": " ", "\u2009": " ",
    "\u2005": " ", "\u205f": " ",
}
