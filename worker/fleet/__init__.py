"""The fleet: Celery app and tasks, the job store and its backends, sweeper, orphans."""
