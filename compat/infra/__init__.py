"""The pre-0.2 name of ``event_platform.infra``, installed for one release (removed in 0.3).

``import infra`` warns once and gives the modules of ``event_platform.infra`` themselves.
In a checkout, the repository's own ``infra/`` folder does the same (its ``__init__``).
"""

from event_platform._deprecated import alias_package

alias_package("infra", "event_platform.infra")
