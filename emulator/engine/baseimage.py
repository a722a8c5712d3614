"""Stand-ins for the platform's Ubuntu base images, for machines where no registry answers.

Two kinds, best first (`cycle emulator base-image` picks; the real `ubuntu:<version>` beats both):
  - a real Debian root filesystem (bookworm, `mmdebstrap --variant=minbase`) from the Debian mirror
    this machine's apt already uses, with python3, venv, pip, curl and ca-certificates, trimmed the
    way Docker's official slim images are, and trusting this machine's extra CA certificates (what
    a TLS-intercepting proxy needs). apt-get works inside it, so the platform's default build.sh runs.
  - a tiny busybox-static + bash-static filesystem: no apt-get, no Python. The fast tests use it;
    users get it only when nothing better can be made, with a warning.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cycle.errors import CycleError

DEFAULT_TAG = "cycle/base:busybox"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBIAN_TAG = "cycle/base:bookworm"
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-venv", "python3-pip", "curl", "ca-certificates")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = Path("/etc/apt")
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# What Docker's official slim Debian images leave out: man pages, docs (but the licences), locales.
SLIM_DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/lintian/*",
)
# Tools that read the system trust store only when told (uv), or carry their own (requests, certifi).
DEBIAN_ENV = (
    f"PATH={PATH}",
    "LANG=C.UTF-8",
    "HOME=/root",
    "UV_SYSTEM_CERTS=1",
    "UV_NATIVE_TLS=1",
    f"SSL_CERT_FILE={SYSTEM_CA_BUNDLE}",
    f"REQUESTS_CA_BUNDLE={SYSTEM_CA_BUNDLE}",
)
KIND_LABEL = "cycleswap.base"
DESCRIPTIONS = {
    "debian-bookworm-mmdebstrap": "Debian bookworm root filesystem built with mmdebstrap",
    "busybox-bash-static": "busybox + bash stand-in without apt-get or Python",
}
BUSYBOX = Path("/bin/busybox")
BASH = Path("/bin/bash-static")
FOLDERS = ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "root", "app", "artifacts",
           "var/tmp", "proc", "sys", "dev", "home", "run")
ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/os-release": 'NAME="cycle busybox stand-in"\nID=cycle-busybox\nPRETTY_NAME="busybox + bash stand-in for '
                      'Ubuntu (cycle emulator)"\n',
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


def make_base_image(api, tag: str = DEFAULT_TAG) -> str:
    """Import the stand-in as `tag`; returns its image id."""
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    api.import_image(
        rootfs_tar(), repository, version,
        [f"ENV PATH={PATH}", "ENV HOME=/root", "WORKDIR /", "LABEL cycleswap.base=busybox-bash-static",
         'CMD ["/bin/bash"]'],
    )
    return api.image(tag)["Id"]




@dataclass(frozen=True)
class AptSource:
    """One `deb URI SUITE COMPONENTS` line of this machine's apt configuration."""

    uri: str
    suite: str
    components: str

    def line(self) -> str:
        return f"deb {self.uri} {self.suite} {self.components}"


def parse_apt_sources(text: str) -> list[AptSource]:
    """The `deb` sources in a one-line .list file or a deb822 .sources file (both formats apt reads)."""
    sources: list[AptSource] = []
    for line in text.splitlines():
        match = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+?)\s*$", line)
        if match:
            sources.append(AptSource(*match.groups()))
    for stanza in re.split(r"\n\s*\n", text):
        fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, flags=re.M))
        if "deb" not in fields.get("Types", "").split() or fields.get("Enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("URIs", "").split():
            for suite in fields.get("Suites", "").split():
                sources.append(AptSource(uri, suite, fields.get("Components", "main")))
    return sources


def debian_sources(suite: str = DEBIAN_SUITE, apt_dir: Path = APT_SOURCES) -> list[AptSource]:
    """This machine's apt sources for `suite` (and its -updates, -security), reused so the image is
    built from the mirror this machine is known to reach; deb.debian.org when it has none."""
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list")),
             *sorted((apt_dir / "sources.list.d").glob("*.sources"))]
    found: list[AptSource] = []
    for path in files:
        if path.is_file():
            found += [s for s in parse_apt_sources(path.read_text(errors="replace"))
                      if s.suite == suite or s.suite.startswith(f"{suite}-") or s.suite.startswith(f"{suite}/")]
    return found or [AptSource(FALLBACK_MIRROR, suite, "main")]


def mmdebstrap_command(suite: str, sources: list[AptSource], ca_files: list[Path], output: Path) -> list[str]:
    """The mmdebstrap call that builds the Debian stand-in's root filesystem as a tar file."""
    command = ["mmdebstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}",
               *(f"--dpkgopt={option}" for option in SLIM_DPKG_OPTIONS)]
    if ca_files:
        command.append(f"--customize-hook=copy-in {' '.join(str(f) for f in ca_files)} {HOST_CA_DIR}")
        command.append('--customize-hook=chroot "$1" update-ca-certificates')
    command.append('--customize-hook=rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* '
                   '"$1"/var/log/apt/* "$1"/tmp/*')
    return [*command, suite, str(output), *(s.line() for s in sources)]


def host_ca_files(folder: Path = HOST_CA_DIR) -> list[Path]:
    """The extra CA certificates this machine trusts (what update-ca-certificates reads: *.crt)."""
    return sorted(folder.rglob("*.crt")) if folder.is_dir() else []


def make_debian_image(api, tag: str = DEBIAN_TAG, say: Callable[[str], None] = lambda _: None) -> str:
    """Build the Debian stand-in with mmdebstrap and `docker import` it as `tag`; returns its image id."""
    if not shutil.which("mmdebstrap"):
        raise CycleError("mmdebstrap is missing. Install Debian's mmdebstrap (`apt-get install -y mmdebstrap`) "
                         "and run `cycle emulator base-image` again.")
    sources = debian_sources()
    ca_files = host_ca_files()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cycle-rootfs-") as folder:
        output = Path(folder) / "rootfs.tar"
        command = mmdebstrap_command(DEBIAN_SUITE, sources, ca_files, output)
        say(f"building a Debian {DEBIAN_SUITE} root filesystem with mmdebstrap from {sources[0].uri} "
            f"(trusting {len(ca_files)} extra CA certificate(s) from {HOST_CA_DIR}) …")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise CycleError(f"mmdebstrap failed (exit {done.returncode}) building {tag}:\n{tail}\n"
                             f"Check that {sources[0].uri} answers (`apt-get update` on this machine), then run "
                             "`cycle emulator base-image --force` again.")
        repository, _, version = tag.rpartition(":")
        changes = [*(f"ENV {e}" for e in DEBIAN_ENV), "WORKDIR /", f"LABEL {KIND_LABEL}=debian-bookworm-mmdebstrap",
                   'CMD ["/bin/bash"]']
        with open(output, "rb") as rootfs:
            api.import_image(rootfs, repository, version, changes)
    image = api.image(tag)
    say(f"imported {tag} ({image['Id'][:19]}, {image.get('Size', 0) / 1e6:.0f} MB) in "
        f"{time.monotonic() - started:.0f} s")
    return image["Id"]


def describe_image(labels: dict | None) -> str | None:
    """What a cycle-made base image is, from its label (None for images cycle did not make)."""
    return DESCRIPTIONS.get((labels or {}).get(KIND_LABEL, ""))


KINDS = ("auto", "ubuntu", "debian", "busybox")
BUSYBOX_WARNING = (
    "WARNING: no registry answered and the Debian image could not be built, so every [ubuntu] version "
    "now maps to {tag}, a busybox + bash stand-in with no apt-get and no Python: only plain bash "
    "projects run on it, and the platform's default build.sh does not. Fix what stopped the Debian "
    "build (above), then run `cycle emulator base-image --force`."
)


@dataclass(frozen=True)
class Provided:
    """What `provide_base_images` settled on: the real ubuntu images and the stand-in for the rest."""

    real: list[str]
    stand_in: str | None
    stand_in_versions: list[str]


def image_present(api, tag: str) -> bool:
    from emulator.engine.docker import image_info

    return image_info(api, tag) is not None


def pull_ubuntu(api, version: str, timeout: float) -> str | None:
    """Pull ubuntu:VERSION explicitly; None when it worked, else why not (no registry, timeout, …)."""
    from emulator.engine.api import EngineError

    try:
        api.pull("ubuntu", version, timeout)
    except EngineError as error:  # the engine's error, no answer or no answer in time: all mean "no registry"
        return (str(error).splitlines() or [type(error).__name__])[0][:200]
    return None if image_present(api, f"ubuntu:{version}") else "the engine did not keep the image"


def real_ubuntu_versions(api, versions: list[str], pull: bool, timeout: float,
                         say: Callable[[str], None]) -> list[str]:
    """The versions whose real ubuntu image is present or could be pulled; stops pulling at the first
    failure (a registry that does not answer for one version will not for the next)."""
    real = [v for v in versions if image_present(api, f"ubuntu:{v}")]
    for version in (v for v in versions if v not in real):
        if not pull:
            break
        say(f"pulling ubuntu:{version} (explicitly, at set-up; timeout {timeout:.0f} s) …")
        why = pull_ubuntu(api, version, timeout)
        if why:
            say(f"no registry gave ubuntu:{version} ({why}); the rest use a stand-in")
            break
        real.append(version)
    return real


def make_stand_in(api, kind: str, force: bool, say: Callable[[str], None], debian_tag: str = DEBIAN_TAG) -> str:
    """The Debian image when it can be had; busybox (said loudly) only when kind allows and Debian fails."""
    if kind in ("auto", "debian"):
        if image_present(api, debian_tag) and not force:
            say(f"{debian_tag} already exists; `--force` rebuilds it")
            return debian_tag
        try:
            make_debian_image(api, debian_tag, say)
            return debian_tag
        except CycleError as error:
            if kind == "debian":
                raise
            say(str(error))
    if image_present(api, DEFAULT_TAG) and not force:
        say(f"{DEFAULT_TAG} already exists")
    else:
        make_base_image(api, DEFAULT_TAG)
        say(f"imported {DEFAULT_TAG} from Debian's busybox-static and bash-static")
    if kind == "auto":
        say(BUSYBOX_WARNING.format(tag=DEFAULT_TAG))
    return DEFAULT_TAG


def provide_base_images(api, versions: list[str], kind: str = "auto", *, force: bool = False, pull: bool = True,
                        pull_timeout: float = 20.0, say: Callable[[str], None] = lambda _: None,
                        debian_tag: str = DEBIAN_TAG) -> Provided:
    """Best image first for each version: the real ubuntu (auto, ubuntu), then Debian, then busybox."""
    real = real_ubuntu_versions(api, versions, pull, pull_timeout, say) if kind in ("auto", "ubuntu") else []
    rest = [v for v in versions if v not in real]
    if kind == "ubuntu" and rest:
        raise CycleError(f"ubuntu:{rest[0]} could not be pulled and is not in the engine. Without a registry, "
                         "use `cycle emulator base-image` (it builds a Debian stand-in).")
    stand_in = make_stand_in(api, kind, force, say, debian_tag) if rest else None
    return Provided(real, stand_in, rest)


def explain(version: str, image: str, source: str, labels: dict | None) -> str:
    """Which image a run uses and why, in words: what it is, what it stands for, where the choice came from."""
    what = describe_image(labels)
    if what and image != f"ubuntu:{version}":
        return f"{image} ({what}, standing in for ubuntu:{version}; chosen by {source})"
    return f"{image} ({source})"
