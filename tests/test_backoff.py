"""Retries slow the whole site down (once per incident) and healthy answers bring it back."""

from types import SimpleNamespace

from scrapy import Spider
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from crawler.middlewares import BackoffRetryMiddleware


def make(delay=0.0):
    crawler = get_crawler(Spider, {"RETRY_TIMES": 3, "DOWNLOAD_DELAY": 0.0, "BACKOFF_MAX_DELAY": 15})
    crawler.spider = Spider.from_crawler(crawler, "s")
    crawler.crawling = True  # a running crawl (crawler.stop() sets it False)
    slot = SimpleNamespace(delay=delay)
    crawler.engine = SimpleNamespace(
        downloader=SimpleNamespace(slots={"site": slot}, get_slot_key=lambda request: "site"))
    return BackoffRetryMiddleware.from_crawler(crawler), slot


def answer(mw, status, url="https://a.gov.vn/x"):
    request = Request(url)
    return mw.process_response(request, Response(url, status=status, request=request))


def test_concurrent_failures_back_off_once():
    mw, slot = make()
    first = answer(mw, 500, "https://a.gov.vn/1")
    assert isinstance(first, Request)  # retried
    assert slot.delay == 1.0
    for n in range(2, 6):  # requests already in flight failing in the same moment
        answer(mw, 503, f"https://a.gov.vn/{n}")
    assert slot.delay == 1.0  # one incident, one step back


def test_healthy_answers_bring_the_delay_back():
    mw, slot = make(delay=8.0)
    answer(mw, 200)
    assert slot.delay == 4.0
    for _ in range(10):
        answer(mw, 200)
    assert slot.delay == 0.0  # down to DOWNLOAD_DELAY


def test_backoff_is_capped():
    mw, slot = make(delay=12.0)
    mw._last_backoff.clear()
    answer(mw, 500)
    assert slot.delay == 15.0


def test_no_retries_once_the_crawl_is_stopping():
    # SIGTERM: what is in flight ends within DOWNLOAD_TIMEOUT, and is not sent again.
    mw, slot = make()
    mw.crawler.crawling = False
    assert answer(mw, 503).status == 503
    assert slot.delay == 0.0
