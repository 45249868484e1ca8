"""The plugin program: the engine runs this folder with the project's virtualenv
(PulumiPlugin.yaml) and talks to the components of provider/components.py through the SDK's
component provider host, which derives the package schema from their type annotations."""

import sys
from pathlib import Path

from pulumi.provider.experimental import component_provider_host

# Run as a folder (`python provider/`), so the folder itself is on sys.path, not its parent.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from event_platform.infra import __version__
from provider.components import COMPONENTS, PACKAGE

if __name__ == "__main__":
    component_provider_host(components=COMPONENTS, name=PACKAGE, version=__version__)
