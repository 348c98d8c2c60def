from titanium.core.migrations import run_env
from titanium.services.comments.tables import metadata

run_env(metadata)
