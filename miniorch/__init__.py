"""miniorch: Kubernetes Job, CronJob and DaemonSet semantics on plain Docker hosts.

One daemon manages Docker Engines as nodes; `miniorch ctl` steers it like kubectl.
"""

__version__ = "0.2.0.dev0"
