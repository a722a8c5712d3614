"""The container engine behind one small interface (protocol.ContainerRuntime): the Docker engine
through its HTTP API in api.py (standard library only), wrapped in docker.py and runtime.py, an
in-memory fake for unit tests in fake.py, getting a daemon to answer in dockerd.py, the stand-in
base images in baseimage.py and the GPU capability in gpu.py.
"""
