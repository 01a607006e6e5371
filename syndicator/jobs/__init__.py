"""The job engine: who runs the work of the service, where and when.

    the service asks                  in-process engine (SQLite)   cluster engine (PostgreSQL)
    ───────────────────────────────   ──────────────────────────   ───────────────────────────
    a source is due: poll it          APScheduler job, thread      dispatcher → poll_source job
    feeds F changed: build them       inline, in the poll          build_feed job per feed
    items stored: send what is due    wake the push job            send_target job per target
    a feed changed: ping the hub      WebSub thread                websub_ping job per feed

One interface (`Work` for what a job asks for, `Engine` for the command that runs them), two
implementations: `inprocess.InProcessEngine` (APScheduler, one process, the embedded default)
and `cluster.ClusterEngine` (procrastinate on PostgreSQL, any number of processes). The
engine follows the storage and is chosen in one place, `make_engine`. The bodies of the jobs
(a poll, a build, a push) are the service's (`Bodies`, implemented by `service.Service`); neither
they nor anything they call knows which engine runs them.
"""
