"""`cycle emulator doctor`: what this machine needs to run jobs as the platform would, checked.

The checks are pure functions of facts (engine info as a dict, numbers, probe results) so they
are tested without Docker; `gather` does the IO once. Each check says OK, WARN or FAIL, what it
saw, and the fix. FAIL means jobs will not run; WARN means some will not, or will run slowly.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

OK, WARN, FAIL = "OK", "WARN", "FAIL"
PROBE_URL = "https://pypi.org/simple/"
PROBE_TIMEOUT = 30
MIN_FREE_BYTES = 5 * 10**9
LOW_FREE_BYTES = 20 * 10**9
MIN_INOTIFY_WATCHES = 65536
# Works on any image with python3 (no pip needed) or curl; trusts the image's own CA store.
PROBE_SCRIPT = (
    "if command -v python3 >/dev/null; then "
    f"python3 -c \"import urllib.request; urllib.request.urlopen('{PROBE_URL}', timeout=15); print('reached "
    f"{PROBE_URL}')\"; "
    f"elif command -v curl >/dev/null; then curl -fsS -o /dev/null --max-time 15 {PROBE_URL} && echo 'reached "
    f"{PROBE_URL}'; "
    "else echo 'the image has neither python3 nor curl'; exit 99; fi"
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class ImageFact:
    version: str
    image: str
    source: str
    present: bool
    labels: dict = field(default_factory=dict)
    problem: str | None = None  # the engine cannot even look it up (a reference it cannot parse)


@dataclass(frozen=True)
class Probe:
    """A container's try at the package index: where it ran and what it said."""

    image: str
    network: str
    exit_code: int | None  # None: it did not run (the reason is in output)
    output: str


@dataclass
class Facts:
    engine_version: str | None = None
    engine_error: str | None = None
    engine_info: dict = field(default_factory=dict)
    images: list[ImageFact] = field(default_factory=list)
    probe: Probe | None = None
    storage: str = ""
    storage_error: str | None = None
    home: Path = Path(".")
    free_bytes: int | None = None
    inotify_watches: int | None = None
    cuda: tuple[str | None, str] = (None, "")


def check_engine(version: str | None, error: str | None) -> Check:
    if version:
        return Check("engine", OK, f"Docker engine {version} answers")
    return Check("engine", FAIL, f"no Docker engine answers ({error})",
                 "`cycle emulator engine start` (as root it installs and starts dockerd), or start Docker Desktop")


def image_kind(fact: ImageFact) -> str:
    """real-ubuntu, debian, busybox, or custom (an image you mapped yourself)."""
    from emulator.engine.baseimage import KIND_LABEL

    kind = fact.labels.get(KIND_LABEL, "")
    if kind.startswith("busybox"):
        return "busybox"
    if kind.startswith("debian"):
        return "debian"
    return "real-ubuntu" if fact.image == f"ubuntu:{fact.version}" else "custom"


def check_image(fact: ImageFact) -> Check:
    name = f"base image {fact.version}"
    if fact.problem:
        return Check(name, FAIL, fact.problem, f"map [ubuntu] {fact.version} to a valid image ({fact.source})")
    if not fact.present:
        return Check(name, FAIL, f"{fact.image} (from {fact.source}) is not in the engine",
                     "`cycle emulator base-image` (or `cycle emulator pull " + fact.version
                     + "` where a registry answers)")
    kind = image_kind(fact)
    if kind == "busybox":
        return Check(name, WARN, f"{fact.image}: busybox + bash stand-in, no apt-get, no Python; the platform's "
                     "default build.sh fails on it",
                 "`apt-get install mmdebstrap`, then `cycle emulator base-image --force`")
    what = {"real-ubuntu": "the real Ubuntu image",
            "debian": "Debian bookworm built with mmdebstrap (apt-get, python3)",
            "custom": f"your image, from {fact.source}"}[kind]
    return Check(name, OK, f"{fact.image}: {what}")


def check_build_network(probe: Probe | None) -> Check:
    name = "build network"
    if probe is None:
        return Check(name, WARN, "not probed: no base image with python3 or curl is present",
                     "`cycle emulator base-image`, then run the doctor again")
    where = f"a container from {probe.image} on network {probe.network}"
    if probe.exit_code == 0:
        return Check(name, OK, f"{where} reached {PROBE_URL}")
    said = probe.output.strip().splitlines()[-1:] or ["no output"]
    if probe.network == "none":
        return Check(name, FAIL, f"{where}: builds have no network", "drop `--network none` / pass `--network auto`")
    return Check(name, FAIL, f"{where} could not reach {PROBE_URL} ({said[0][:200]})",
                 "check the proxy and DNS; behind a TLS-intercepting proxy put its CA in "
                 "/usr/local/share/ca-certificates "
                 "and run `cycle emulator base-image --force`")


def check_storage(description: str, error: str | None) -> Check:
    if error:
        return Check("artifact store", FAIL, f"{description or 'the artifact store'} does not answer ({error})",
                     "`cycle emulator storage status`; `cycle emulator storage start`, or `storage use local`")
    return Check("artifact store", OK, f"{description} answers")


def check_disk(home: Path, free_bytes: int | None) -> Check:
    if free_bytes is None:
        return Check("disk", WARN, f"free space under {home} is unknown")
    gb = free_bytes / 10**9
    if free_bytes < MIN_FREE_BYTES:
        return Check("disk", FAIL, f"{gb:.1f} GB free under {home}",
                     "free space there, or set CYCLE_HOME to a bigger disk")
    if free_bytes < LOW_FREE_BYTES:
        return Check("disk", WARN, f"{gb:.1f} GB free under {home}: images and artifacts fill it fast",
                     "free space there, or set CYCLE_HOME to a bigger disk")
    return Check("disk", OK, f"{gb:.0f} GB free under {home}")


def check_inotify(watches: int | None) -> Check:
    if watches is None:
        return Check("inotify", WARN, "fs.inotify.max_user_watches unknown (not Linux?); artifact watching may poll")
    if watches < MIN_INOTIFY_WATCHES:
        return Check("inotify", WARN, f"fs.inotify.max_user_watches = {watches}: jobs with many artifact folders fall "
                     "back to polling (slower uploads)", "`sudo sysctl fs.inotify.max_user_watches=524288`")
    return Check("inotify", OK, f"fs.inotify.max_user_watches = {watches}")


def check_gpu(cuda: str | None, source: str) -> Check:
    if cuda:
        return Check("gpu", OK, f"machines support CUDA {cuda} ({source})")
    return Check("gpu", OK, f"no GPU: {source}; jobs with [job] cuda need --cpu or wait")


def check_nvidia_runtime(cuda: str | None, source: str, engine_info: dict) -> Check | None:
    """Only where a real driver is found: the engine needs NVIDIA's container runtime to give GPUs."""
    if not cuda or source != "nvidia-smi":
        return None
    runtimes = engine_info.get("Runtimes") or {}
    if "nvidia" in runtimes:
        return Check("nvidia runtime", OK, "the engine has the NVIDIA container runtime")
    return Check("nvidia runtime", WARN, f"the engine's runtimes are {', '.join(sorted(runtimes)) or 'unknown'}: "
                 "no nvidia, so GPU containers usually fail to start",
                 "install nvidia-container-toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker`, restart "
                 "Docker")


def checks(facts: Facts) -> list[Check]:
    found = [check_engine(facts.engine_version, facts.engine_error)]
    if facts.engine_version:
        found += [check_image(fact) for fact in facts.images]
        found.append(check_build_network(facts.probe))
    found += [check_storage(facts.storage, facts.storage_error), check_disk(facts.home, facts.free_bytes),
              check_inotify(facts.inotify_watches), check_gpu(*facts.cuda)]
    runtime_check = check_nvidia_runtime(*facts.cuda, facts.engine_info)
    return found + ([runtime_check] if runtime_check else [])


def exit_code(found: list[Check]) -> int:
    return 1 if any(c.status == FAIL for c in found) else 0


def as_dicts(found: list[Check]) -> list[dict]:
    return [asdict(c) for c in found]


def text(found: list[Check]) -> str:
    lines = []
    for c in found:
        lines.append(f"{c.status:4}  {c.name:16} {c.detail}")
        if c.fix and c.status != OK:
            lines.append(f"{'':22}fix: {c.fix}")
    return "\n".join(lines)


# ---- the IO, gathered once -------------------------------------------------------------------


def read_inotify_watches(path: Path = Path("/proc/sys/fs/inotify/max_user_watches")) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def probe_network(api, image_fact: ImageFact, home: Path) -> Probe:
    """Run PROBE_SCRIPT in a container from the base image on the network builds get."""
    from emulator.engine import docker as runtime
    from emulator.engine import protocol
    from emulator.engine.api import Unreachable
    from emulator.engine.dockerd import resolve_network

    network = resolve_network(api, "auto")
    labels = {protocol.LABEL: "1", protocol.LABEL_HOME: protocol.home_label(home), protocol.LABEL_KIND: "doctor"}
    spec = protocol.ContainerSpec(image=image_fact.image, command=["sh", "-c", PROBE_SCRIPT], labels=labels,
                                  working_dir="/", network_mode=network)
    container = runtime.create_container_id(api, spec)
    try:
        api.start(container)
        try:
            code = api.wait(container, timeout=PROBE_TIMEOUT)
        except Unreachable:  # no answer in time: the network hangs rather than refuses
            return Probe(image_fact.image, network, 124, f"no answer within {PROBE_TIMEOUT} s")
        return Probe(image_fact.image, network, code, api.logs(container).decode(errors="replace"))
    finally:
        runtime.remove_quietly(api, container)


def existing_folder(path: Path) -> Path:
    """`path`, or its nearest existing parent: a home not made yet fills the disk it will be made on
    (doctor only reads, so it does not make it)."""
    return next(folder for folder in (path, *path.parents) if folder.exists())


def gather(home: Path) -> Facts:
    from cycle.api.manifest import UBUNTU_VERSIONS
    from emulator.config import image_for
    from emulator.engine import gpu
    from emulator.engine.api import EngineAPI, EngineError
    from emulator.storage import store_status

    facts = Facts(home=home, inotify_watches=read_inotify_watches(), cuda=gpu.machine_cuda())
    facts.free_bytes = shutil.disk_usage(existing_folder(home)).free
    try:
        facts.storage = store_status(home)
    except Exception as error:  # StorageError, botocore's errors, a bad config: all "does not answer"
        facts.storage_error = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    try:
        api = EngineAPI(timeout=PROBE_TIMEOUT + 10)
        facts.engine_info = api.info()
        facts.engine_version = api.version().get("Version")
    except EngineError as error:  # no engine, or not one cycle can use
        facts.engine_error = (str(error).splitlines() or [type(error).__name__])[0][:200]
        return facts
    facts.images = [_image_fact(api, image_for(v, home)) for v in UBUNTU_VERSIONS]
    probe_image = next((f for f in facts.images if f.present and image_kind(f) != "busybox"), None)
    facts.probe = probe_network(api, probe_image, home) if probe_image else None
    return facts


def _image_fact(api, choice) -> ImageFact:
    from cycle.errors import BadInput
    from emulator.engine.docker import image_info

    try:
        image = image_info(api, choice.image)
    except BadInput as error:
        return ImageFact(choice.version, choice.image, choice.source, False, problem=error.message)
    if image is None:
        return ImageFact(choice.version, choice.image, choice.source, False)
    return ImageFact(choice.version, choice.image, choice.source, True, image.labels)

