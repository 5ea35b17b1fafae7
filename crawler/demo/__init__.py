"""The bundled demo portal the main job crawls (``python -m crawler demo``).

A SharePoint 2013 PublishingPortal-style site of "Sở Giáo dục và Đào tạo tỉnh Demo" with a
sub-site (``/congdoan``, title in ``div.tieude``, lead in ``div.tomtat``), generated from a
seed and served on 127.0.0.1 (see :class:`DemoPortal`). It contains what real portals do to
a crawler: one article under several URLs (``l=`` categories, ``&sid=`` junk, legacy
``ViewNews.aspx`` 301s), listings paged by GET, by ASP.NET postback only, and by a
"Xem thêm" cursor; an RSS feed, a partial sitemap, robots.txt rules; traps (an endless
calendar, print views, search, off-site, ``mailto:``/``javascript:`` links); pages that
fail once, fail always, are missing (404) or are slow.
"""

__all__ = ["DemoPortal"]


def __getattr__(name: str):
    # Lazy, so that ``python -m crawler.demo.portal`` does not import the module twice.
    if name == "DemoPortal":
        from .portal import DemoPortal

        return DemoPortal
    raise AttributeError(name)
