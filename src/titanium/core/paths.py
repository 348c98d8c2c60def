"""The paths every service answers for its operators: probes, status and metrics."""

HEALTH_PATH = "/health"  # alive
READY_PATH = "/health/ready"  # can work: its database answers
STATUS_PATH = "/status"  # figures and checks, for the dashboard
METRICS_PATH = "/metrics"  # Prometheus
# Probes, scrapes and the dashboard's status checks arrive every few seconds:
# they are counted apart from the requests' figures (which they would
# disturb), never traced, and logged only at debug.
OPERATIONAL_PATHS = frozenset({HEALTH_PATH, READY_PATH, STATUS_PATH, METRICS_PATH})
# Requests allowed a larger body than a service's max_body_bytes (1 MB): an
# image upload (10 MB and its multipart wrapping; services/blog/writing_routes.py),
# at the gateway and at the blog alike.
LARGE_BODY_PATHS = {"/blog/api/images": 11 * 1024 * 1024}
