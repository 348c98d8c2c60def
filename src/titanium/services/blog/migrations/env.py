from titanium.core.migrations import run_env
from titanium.services.blog.tables import metadata

run_env(metadata)
