"""*http_post and *http_post_async: a real HTTP POST of the account JSON, retried with backoff.

Asynchronous posts go to a small thread pool: the action set (and the transaction holding the account's
lock) never waits for them. A failure after every retry is logged with the URL and the last error.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor

from sigcore.charging.executor import Post

log = logging.getLogger("sigcore.charging.posts")


class PostFailed(Exception):
    pass


class Poster:
    def __init__(self, attempts: int = 3, timeout: float = 5.0, backoff: float = 0.5, workers: int = 4) -> None:
        self.attempts, self.timeout, self.backoff = attempts, timeout, backoff
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="charging-post")

    def post_once(self, post: Post) -> None:
        request = urllib.request.Request(post.url, data=post.body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as reply:
            if reply.status > 299:
                raise PostFailed(f"HTTP {reply.status}")

    def post(self, post: Post) -> None:
        """Post with retries; raises the last error (for *http_post, which fails its action set)."""
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                self.post_once(post)
                return
            except (ValueError, http.client.InvalidURL) as err:  # a URL urllib cannot use: no retry mends it
                log.warning("HTTP POST to %r failed: not a usable URL (%s)", post.url, err)
                raise PostFailed(f"not a usable URL: {err}") from None
            except (OSError, urllib.error.URLError, http.client.HTTPException, PostFailed) as err:
                if attempt == self.attempts:
                    log.warning("HTTP POST to %s failed after %d attempts: %s", post.url, attempt, err)
                    raise PostFailed(str(err)) from None
                time.sleep(delay)
                delay *= 2

    def submit(self, post: Post) -> Future[None]:
        """Post in the background; the failure is logged, never raised to the action set."""
        return self._pool.submit(self._quiet, post)

    def _quiet(self, post: Post) -> None:
        try:
            self.post(post)
        except PostFailed:
            pass  # logged by post()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=False)
