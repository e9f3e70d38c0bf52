"""The process ``sigcore run --workers N`` starts as: it runs no Diameter itself.

It opens the store once (schema migrated, key created or checked: a wrong key stops everything before any
worker starts, and the key file is created by one process only), then starts N workers, each ``sigcore
run`` with `Worker` in its environment. SIGINT and SIGTERM are passed on to every worker, which stops
cleanly (DPR to its peers); the supervisor waits for all of them. SIGHUP (reload) and SIGUSR1/SIGUSR2 (log
level) are passed on too. If one worker dies, the others are
stopped too and the exit status says so: a service manager (systemd ``Restart=on-failure``) restarts the
whole set, rather than this process hiding a crash loop.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from sigcore.config import Config
from sigcore.store import Store
from sigcore.workers import ENV, Worker

log = logging.getLogger("sigcore.workers")
STOP_TIMEOUT = 30.0
#: what a worker may take to stop its areas after its node (the batches, the counters)
STOP_MARGIN = 15.0


def stop_timeout(cfg: Config) -> float:
    """How long the workers may take to stop before they are killed: a node's graceful stop may last the
    request timeout and then the DPA timeout (`Node.stop`), and a kill would lose what it waits for."""
    timers = cfg.diameter.timers
    return max(STOP_TIMEOUT, timers.request_timeout + timers.dpa_timeout + STOP_MARGIN)


def prepare(cfg: Config) -> None:
    """What must happen once, not in N racing processes: the schema and the key."""
    Store.from_config(cfg.database, auto_migrate=True, key="create").close()


def supervise(cfg: Config, config_path: str | None, count: int) -> int:
    """Run `count` workers until a signal or a worker's exit; the exit status of the set."""
    prepare(cfg)
    group = str(os.getpid())
    argv = [sys.executable, "-m", "sigcore.cli", "run", *(["--config", config_path] if config_path else [])]
    workers: list[subprocess.Popen[bytes]] = []
    stopped_at: list[float] = []  # when the stop began (a signal, or a worker's failure)
    patience = stop_timeout(cfg)

    def pass_on(signum: int, _frame: object) -> None:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signum)

    def stop_all(signum: int, frame: object) -> None:
        if not stopped_at:
            stopped_at.append(time.monotonic())
        pass_on(signum, frame)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGHUP, pass_on)  # each worker reloads; the set keeps running
    signal.signal(signal.SIGUSR1, pass_on)  # log level: the workers are what logs
    signal.signal(signal.SIGUSR2, pass_on)
    for index in range(count):
        env = {**os.environ, ENV: Worker(group, index, count).encode()}
        workers.append(subprocess.Popen(argv, env=env))
    log.info("started %d workers: pids %s", count, " ".join(str(p.pid) for p in workers))
    failed = 0
    while any(p.poll() is None for p in workers):
        for index, proc in enumerate(workers):
            code = proc.poll()
            if code is not None and code != 0 and not stopped_at:
                log.error("worker %d (pid %d) exited with status %d: stopping the others", index, proc.pid, code)
                failed = code if code > 0 else 1
                stop_all(signal.SIGTERM, None)
        if stopped_at and time.monotonic() - stopped_at[0] > patience:
            for proc in workers:
                if proc.poll() is None:
                    log.error("worker pid %d did not stop within %g s: killed", proc.pid, patience)
                    proc.kill()
        time.sleep(0.1)
    return failed or max((p.returncode for p in workers if p.returncode and p.returncode > 0), default=0)
