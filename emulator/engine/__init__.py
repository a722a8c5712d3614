"""The container engine behind one small interface (protocol.ContainerRuntime): docker-py in
docker.py, an in-memory fake for unit tests in fake.py, getting a daemon to answer in dockerd.py,
the stand-in base images in baseimage.py and the GPU capability in gpu.py.

Importing `emulator.engine` itself still gives dockerd's names: the old module emulator/engine.py
became this package (the lead removes the re-export after the merge; new code imports
emulator.engine.dockerd).
"""

from emulator.engine.dockerd import *  # noqa: F401,F403
