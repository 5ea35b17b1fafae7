"""Editor markup for article text: Word-pasted spans, ``&nbsp;``, ``<br>`` runs, captions.

Every function here changes how text *looks* in the HTML, never what it *says*: the
visible text of each paragraph, after whitespace is collapsed and NFC applied, is the
generator's text exactly.
"""

from __future__ import annotations

import random
import unicodedata
from html import escape

from .content import Article, Image

WORD_SPAN = [
    "font-size:14.0pt;font-family:&quot;Times New Roman&quot;,serif",
    "font-size:14pt;font-family:'Times New Roman'",
    "font-size:13.0pt;line-height:115%;font-family:&quot;Times New Roman&quot;,serif;color:black",
]
P_STYLES = [
    'class="MsoNormal" style="margin-bottom:6.0pt;text-align:justify;text-indent:36.0pt;line-height:normal"',
    'style="text-align: justify;"',
    'style="text-align:justify;line-height:1.5"',
    'class="MsoNormal" style="text-align:justify;text-indent:.5in"',
]
OFFSITE_IN_TEXT = [
    "https://moet.gov.vn/tintuc/Pages/tin-tong-hop.aspx",
    "https://chinhphu.vn/",
    "http://example.org/van-ban/chi-tiet?id=4521",
]


def _prep(text: str, nfd: bool) -> str:
    return unicodedata.normalize("NFD", text) if nfd else text


def inline(rng: random.Random, text: str, *, nfd: bool = False) -> str:
    """Escaped text whose spaces are sometimes ``&nbsp;`` or an editor's line break."""
    words = escape(_prep(text, nfd), quote=False).split(" ")
    out = [words[0]]
    for w in words[1:]:
        r = rng.random()
        if r < 0.04:
            out.append("&nbsp;" + w)
        elif r < 0.06:
            out.append(" &nbsp;" + w)
        elif r < 0.09:
            out.append("\n" + " " * rng.choice([4, 8, 12]) + w)
        else:
            out.append(" " + w)
    return "".join(out)


def word_spans(rng: random.Random, text: str, *, nfd: bool = False) -> str:
    """The text split over 1-3 Word ``<span>``s (splits at spaces, the space kept inside)."""
    words = text.split(" ")
    n = min(len(words), rng.choice([1, 1, 2, 3]))
    cuts = sorted(rng.sample(range(1, len(words)), n - 1)) if n > 1 else []
    style = rng.choice(WORD_SPAN)
    parts, prev = [], 0
    for cut in [*cuts, len(words)]:
        chunk = " ".join(words[prev:cut]) + (" " if cut < len(words) else "")
        parts.append(f'<span lang="VI" style="{style}">{inline(rng, chunk, nfd=nfd)}</span>')
        prev = cut
    return "".join(parts)


def _decorate(rng: random.Random, text: str, nfd: bool) -> str:
    """Some paragraphs get a bold opening or an off-site link on a phrase (text unchanged)."""
    words = text.split(" ")
    r = rng.random()
    if r < 0.12 and len(words) > 8:
        k = rng.randint(2, 4)
        head, tail = " ".join(words[:k]), " ".join(words[k:])
        return f"<strong>{inline(rng, head, nfd=nfd)}</strong> {inline(rng, tail, nfd=nfd)}"
    if r < 0.2 and len(words) > 12:
        i = rng.randint(3, len(words) - 6)
        a, b, c = " ".join(words[:i]), " ".join(words[i:i + 3]), " ".join(words[i + 3:])
        href = rng.choice(OFFSITE_IN_TEXT)
        return (f'{inline(rng, a, nfd=nfd)} <a href="{href}" target="_blank">'
                f"{inline(rng, b, nfd=nfd)}</a> {inline(rng, c, nfd=nfd)}")
    return None


def paragraph(rng: random.Random, text: str, style: int, nfd: bool) -> str:
    deco = _decorate(rng, text, nfd)
    if style == 0:
        inner = deco or word_spans(rng, text, nfd=nfd)
        return f"<p {P_STYLES[0]}>{inner}<o:p></o:p></p>"
    inner = deco or inline(rng, text, nfd=nfd)
    if style == 2:
        return f'<div style="text-align: justify;">{inner}</div>'
    return f"<p {rng.choice(P_STYLES[1:])}>{inner}</p>"


def image(rng: random.Random, im: Image, alt: str) -> str:
    w = rng.choice([500, 550, 600, 640])
    h = w * 2 // 3
    img = (f'<img alt="{escape(alt)}" src="{im.path}" '
           f'style="width: {w}px; height: {h}px;" width="{w}" height="{h}" />')
    cap = escape(im.caption or "", quote=False)
    if im.layout == "bare":
        return f'<p style="text-align: center;">{img}</p>'
    if im.layout == "table":
        return (
            '<table align="center" border="0" cellpadding="3" cellspacing="0" '
            f'style="width:{w}px"><tbody>\n<tr><td>{img}</td></tr>\n'
            f'<tr><td style="text-align:center"><em><span style="font-size:12pt">{cap}'
            "</span></em></td></tr>\n</tbody></table>"
        )
    if im.layout == "div":
        return f'<div style="text-align:center">{img}<br />\n<i>{cap}</i></div>'
    return (f'<p style="text-align: center;">{img}</p>\n'
            f'<p style="text-align: center;"><em>{cap}</em></p>')


def byline(rng: random.Random, text: str) -> str:
    t = escape(text, quote=False)
    return rng.choice([
        f'<p style="text-align: right;"><strong>{t}</strong></p>',
        f'<p align="right"><b>{t}</b></p>',
        f'<p class="MsoNormal" align="right" style="text-align:right"><b><span lang="VI" '
        f'style="font-size:14.0pt">{t}</span></b><o:p></o:p></p>',
        f'<div style="text-align: right;"><strong><em>{t}</em></strong></div>',
    ])


def source(rng: random.Random, text: str) -> str:
    t = escape(text, quote=False)
    return rng.choice([
        f'<p style="text-align: right;"><em>Nguồn: {t}</em></p>',
        f"<p>(Nguồn: {t})</p>",
        f'<p style="text-align:justify"><i>Nguồn: {t}</i></p>',
    ])


def body(article: Article, seed: int) -> str:
    """The inner HTML of the article's ``div.ms-rtestate-field``."""
    rng = random.Random(f"markup-{seed}-{article.prefix}-{article.item_id}")
    style = article.style
    out: list[str] = []
    if rng.random() < 0.3:
        out.append('<p class="MsoNormal">&nbsp;</p>' if style == 0 else "<p>&nbsp;</p>")
    pars = article.paragraphs
    i = 0
    while i <= len(pars):
        for im in article.images:
            if im.after == i:
                out.append(image(rng, im, article.title))
        if i == len(pars):
            break
        if style >= 2 and i + 1 < len(pars) and rng.random() < 0.3 \
                and not any(im.after == i + 1 for im in article.images):
            # two paragraphs in one block, separated by <br> (one or two)
            sep = rng.choice(["<br />\n", "<br />\n<br />\n", "<br>"])
            a = inline(rng, pars[i], nfd=article.nfd)
            b = inline(rng, pars[i + 1], nfd=article.nfd)
            tag = "div" if style == 2 else "p"
            out.append(f'<{tag} style="text-align:justify">{a}{sep}{b}</{tag}>')
            i += 2
            continue
        out.append(paragraph(rng, pars[i], style, article.nfd))
        if style == 3 and rng.random() < 0.3:
            out.append("<p>&nbsp;</p>")
        i += 1
    tail = []
    if article.byline:
        tail.append(byline(rng, article.byline))
    if article.source:
        if article.source_first:
            tail.insert(0, source(rng, article.source))
        else:
            tail.append(source(rng, article.source))
    out.extend(tail)
    if rng.random() < 0.4:
        out.append("<p>&nbsp;</p>")
    return "\n".join(out)
