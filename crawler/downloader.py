"""Scrapy's downloader with the per-site concurrency limit actually enforced.

Scrapy 2.14 and later start each download as a scheduled task, and a request only joins
``slot.transferring`` once its task runs; ``Downloader._process_queue`` meanwhile keeps
popping the queue while ``free_transfer_slots()`` still reads the old count, so with no
download delay every queued request of a site starts at once, whatever
CONCURRENT_REQUESTS_PER_DOMAIN says (we measured 15 in flight with a limit of 2). With
the default delays one request starts per delay and the bug hides; anyone who sets
DOWNLOAD_DELAY=0 would hammer a small server. Here a request counts as transferring from
the moment it leaves the slot's queue (``_download`` removes it when done, as before).
"""

from __future__ import annotations

from collections import deque

from scrapy.core.downloader import Downloader


class _ReservingQueue(deque):
    def __init__(self, slot, items=()):  # noqa: ANN001
        super().__init__(items)
        self.slot = slot

    def popleft(self):
        request, dfd = super().popleft()
        self.slot.transferring.add(request)
        return request, dfd


class PoliteDownloader(Downloader):
    def _get_slot(self, *args, **kwargs):
        key, slot = super()._get_slot(*args, **kwargs)
        if not isinstance(slot.queue, _ReservingQueue):
            slot.queue = _ReservingQueue(slot, slot.queue)
        return key, slot
