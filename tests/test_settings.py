"""Politeness defaults (PORTALS.md "Be polite"): the values a crawl runs with unless overridden."""

from scrapy.settings import Settings


def project_settings() -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    return settings


def test_politeness_defaults():
    s = project_settings()
    assert s.getbool("ROBOTSTXT_OBEY") is True
    assert s.getbool("AUTOTHROTTLE_ENABLED") is True
    assert s.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2
    ua = s.get("USER_AGENT")
    assert "vngovnews" in ua and ("http" in ua or "@" in ua)  # names the project, has a contact
    assert 0 < s.getint("DOWNLOAD_TIMEOUT") <= 60  # well under Scrapy's 180 s
    assert s.getint("RETRY_TIMES") >= 2
    assert {500, 502, 503, 504, 408} <= set(s.getlist("RETRY_HTTP_CODES"))
    assert 0 < s.getint("DOWNLOAD_MAXSIZE") <= 50 * 1024 * 1024
    assert s.getint("SITE_PAGE_CAP") > 0


def test_components_are_switched_on_in_settings():
    s = project_settings()
    mws = s.getdict("DOWNLOADER_MIDDLEWARES")
    assert mws["crawler.middlewares.BackoffRetryMiddleware"] == 550
    assert mws["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert "pipelines.archive.ArchivePipeline" in s.getdict("ITEM_PIPELINES")
    assert s.get("DUPEFILTER_CLASS") == "crawler.frontier.FrontierDupeFilter"
