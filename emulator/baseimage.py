"""An offline stand-in for the platform's Ubuntu base images.

No registry answers here, so `cycle emulator base-image` imports a tiny root filesystem made of
Debian's busybox-static (the coreutils) and bash-static (run.sh and build.sh are bash scripts).
It is not Ubuntu: apt-get is missing, and every run says which image it used.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from cycle.errors import CycleError

DEFAULT_TAG = "cycle/base:busybox"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = Path("/bin/busybox")
BASH = Path("/bin/bash-static")
FOLDERS = ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "root", "app", "artifacts",
           "var/tmp", "proc", "sys", "dev", "home", "run")
ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/os-release": 'NAME="cycle busybox stand-in"\nID=cycle-busybox\nPRETTY_NAME="busybox + bash stand-in for Ubuntu (cycle emulator)"\n',
}


def _need(path: Path, package: str) -> Path:
    if not path.is_file():
        raise CycleError(
            f"{path} is missing. Install Debian's {package} (`apt-get install -y {package}`) and run "
            "`cycle emulator base-image` again, or map an image you have with CYCLE_BASE_IMAGE=<image>."
        )
    return path


def rootfs_tar() -> bytes:
    """The stand-in's root filesystem as a tar archive."""
    busybox = _need(BUSYBOX, "busybox-static")
    bash = _need(BASH, "bash-static")
    applets = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in FOLDERS:
            _add_dir(tar, folder, 0o755)
        _add_dir(tar, "tmp", 0o1777)
        tar.add(str(busybox), arcname="bin/busybox")
        tar.add(str(bash), arcname="bin/bash")
        for applet in applets:
            if applet in ("bin/bash", "bin/busybox"):
                continue
            link = tarfile.TarInfo(applet)
            link.type = tarfile.SYMTYPE
            link.linkname = "/bin/busybox"
            tar.addfile(link)
        for name, text in ETC.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _add_dir(tar: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def make_base_image(client, tag: str = DEFAULT_TAG) -> str:
    """Import the stand-in as `tag`; returns its image id."""
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    client.api.import_image_from_data(
        rootfs_tar(), repository=repository, tag=version,
        changes=[f"ENV PATH={PATH}", "ENV HOME=/root", "WORKDIR /", "LABEL cycleswap.base=busybox-bash-static",
                 'CMD ["/bin/bash"]'],
    )
    return client.images.get(tag).id


