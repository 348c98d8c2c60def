from titanium.core.migrations import run_env
from titanium.services.users.tables import metadata

run_env(metadata)
