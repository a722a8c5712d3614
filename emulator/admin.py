"""The emulator behind the EmulatorAdmin protocol: what `cycle emulator …` calls.

The CLI never imports the engine's client or the emulator's modules itself; it opens this through
cycle.platform.open_admin(). Each method imports what it needs, so `cycle emulator home` stays fast.
"""

from __future__ import annotations

from pathlib import Path

from cycle.api.admin import DoctorReport, ImageStatus, S3Holding, Say, StorageStatus, Usage
from cycle.api.models import Machine
from cycle.api.wording import listed
from cycle.errors import CycleError
from emulator.config import emulator_home

UBUNTU_24 = "24.04"  # the version whose mapping says whether the user chose the base images themselves


class Admin:
    def __init__(self, home: Path | None = None) -> None:
        self._given_home = home

    @property
    def _home(self) -> Path:
        """The home, created on first use by a command that needs it (reads never create it)."""
        if self._given_home is None:
            self._given_home = emulator_home()
        return self._given_home

    @property
    def _home_path(self) -> Path:
        """Where the home is, created or not: for the commands that only read it (home, images,
        doctor, storage status)."""
        from emulator.settings import load

        return self._given_home or load().home

    # engine and images
    def engine_start(self, say: Say) -> str:
        from emulator.engine.dockerd import ensure_engine

        return ensure_engine(self._home, say)

    def engine_status(self) -> str:
        from emulator.engine import docker as runtime

        version = runtime.connect().version()
        return f"Docker engine {version.get('Version')} (API {version.get('ApiVersion')}) answers"

    def base_image_kinds(self) -> tuple[str, ...]:
        from emulator.engine.baseimage import KINDS

        return tuple(KINDS)

    def provide_base_images(self, versions: list[str], kind: str, force: bool, pull: bool | None,
                            pull_timeout: float, say: Say) -> None:
        from emulator.config import map_versions, unmap_versions
        from emulator.engine import docker as runtime
        from emulator.engine.baseimage import provide_base_images
        from emulator.settings import load

        pull = load().pull_ubuntu if pull is None else pull  # a registry only when asked
        provided = provide_base_images(runtime.connect(), versions, kind, force=force, pull=pull,
                                       pull_timeout=pull_timeout, say=say)
        if provided.real:
            path = unmap_versions(provided.real)
            verb = "uses the real ubuntu image" if len(provided.real) == 1 else "use the real ubuntu images"
            say(f"[ubuntu] {', '.join(provided.real)} {verb} (recorded in {path})")
        if provided.stand_in:
            path = map_versions(provided.stand_in, provided.stand_in_versions)
            versions, verb = provided.stand_in_versions, "maps" if len(provided.stand_in_versions) == 1 else "map"
            say(f"[ubuntu] {', '.join(versions)} now {verb} to {provided.stand_in} (recorded in {path})")

    def user_mapped_image(self) -> str | None:
        from emulator.config import image_for
        from emulator.engine.baseimage import DEBIAN_TAG, DEFAULT_TAG

        mapped = image_for(UBUNTU_24).image
        return None if mapped in (f"ubuntu:{UBUNTU_24}", DEFAULT_TAG, DEBIAN_TAG) else mapped

    def images(self) -> list[ImageStatus]:
        from cycle.api.manifest import UBUNTU_VERSIONS
        from emulator.config import image_for
        from emulator.engine import docker as runtime
        from emulator.engine.baseimage import explain

        api = runtime.connect()
        rows = []
        for version in UBUNTU_VERSIONS:
            choice = image_for(version, self._home_path)
            image = runtime.image_info(api, choice.image)
            labels, present = (image.labels, True) if image else (None, False)
            explanation = explain(version, choice.image, choice.source, labels)
            rows.append(ImageStatus(version, present, explanation, choice.image))
        return rows

    def pull(self, version: str, say: Say) -> None:
        from emulator.engine import docker as runtime
        from emulator.engine.api import EngineError

        api = runtime.connect()
        say(f"pulling ubuntu:{version} …")
        try:
            api.pull("ubuntu", version, api.timeout)
        except EngineError as error:  # the engine's error or no answer: both mean "no registry"
            raise CycleError(f"pulling ubuntu:{version} failed ({str(error)[:200]}). Without a registry, use "
                             "`cycle emulator base-image` (it builds a Debian stand-in).", exit_code=1) from None

    def doctor(self) -> DoctorReport:
        from emulator import doctor as checks

        found = checks.checks(checks.gather(self._home_path))
        return DoctorReport(checks.text(found), checks.as_dicts(found), checks.exit_code(found))

    # artifact store
    def storage_start(self, port: int | None) -> str:
        from emulator.storage import start_server

        return start_server(self._home, port)

    def storage_stop(self, force: bool = False) -> bool:
        from emulator.storage import moto_store, stop_server

        if not force and moto_store(self._home_path) is not None:
            self._refuse_while_jobs_live()
        return stop_server(self._home)

    def _refuse_while_jobs_live(self) -> None:
        """A job still running (or waiting to) stores its artifacts in the server it started with:
        stopping cycle's S3 server under it fails every upload left (UPLOAD_ERROR) and loses
        what the server held. Refused (BadInput), naming the jobs, unless forced."""
        from cycle.errors import BadInput
        from emulator.models import JobState

        platform = self._existing_platform()
        if platform is None:
            return
        live = [job.name for state in (JobState.RUNNING, JobState.PENDING)
                for job in platform.store.jobs(state=state, limit=1000)]
        if live:
            raise BadInput(f"not stopped: {len(live)} job(s) still running or waiting may store artifacts in this "
                           f"S3 server ({listed(live, 10)}); stopping it now fails their uploads and loses what it "
                           "holds. Let them end (`cycle job list`), cancel them (`cycle job cancel JOB`), or stop it "
                           "anyway with `cycle emulator storage stop --force`.")

    def storage_use(self, kind: str, host: str | None, bucket: str | None) -> str:
        from emulator.blobs import StorageError
        from emulator.storage import check_storage_choice, open_blob_store, s3_status, storage_settings, use_storage

        check_storage_choice(host, bucket)  # before self._home makes the home
        if kind == "s3":  # an S3 API that does not answer is not recorded either
            current = storage_settings(self._home_path)
            try:
                s3_status(host or current["localstack_host"], bucket or current["bucket"])
            except StorageError as error:
                raise StorageError(f"{error.message} Nothing was changed: artifacts go where they went.") from None
        use_storage(self._home, kind, localstack_host=host, bucket=bucket)
        return open_blob_store(self._home).description

    def storage_report(self) -> StorageStatus:
        from emulator.blobs import LOCAL_STORE_NAME, s3_store_name
        from emulator.storage import moto_store, storage_settings, store_status

        settings = storage_settings(self._home_path)
        description = store_status(self._home_path)  # raises, with the fix, when the store does not answer
        name = LOCAL_STORE_NAME if settings["kind"] == "local" else s3_store_name(settings["localstack_host"],
                                                                                    settings["bucket"])
        moto = moto_store(self._home_path)  # one request: does cycle's server answer
        held, lost = (None, None) if moto is None else (self._held(moto, lost=False), self._held(moto, lost=True))
        return StorageStatus(kind=settings["kind"], store=name, description=description,
                             moto_server=moto[1] if moto else None, held=held, lost=lost)

    def storage_held(self) -> S3Holding | None:
        from emulator.storage import moto_store

        moto = moto_store(self._home_path)
        return None if moto is None else self._held(moto, lost=False)

    def _held(self, moto: tuple[str, str, int], lost: bool) -> S3Holding:
        """What the records say cycle's moto server holds since its start, or lost at it (usage's
        moto_holding); nothing on a home where no job ran."""
        from emulator.usage import moto_holding

        platform = self._existing_platform()
        if platform is None:
            return S3Holding(server=moto[1], store=moto[0], jobs=0, files=0, bytes=0)
        return moto_holding(platform.store, moto, lost)

    # machines, usage, outbox, home
    def _platform(self):
        """The platform on the home, which it makes (private) only when it first records something:
        a refused request leaves an empty home absent."""
        from emulator.platform import EmulatorPlatform

        return EmulatorPlatform(self._home_path)

    def _existing_platform(self):
        """The platform when the home already holds a state.db, else None: `emulator machines`,
        `usage` and `outbox` only read, so on a home where nothing ran they create no file."""
        from emulator.platform import EmulatorPlatform, existing_home

        home = existing_home(self._given_home)
        return None if home is None else EmulatorPlatform(home)

    def machines(self) -> list[Machine]:
        """The machines, each holding a job named by the job's name (the records keep its id)."""
        import dataclasses

        platform = self._existing_platform()
        if platform is None:
            return untouched_machines()
        return [m if m.job_id is None else dataclasses.replace(m, job_name=_job_name(platform.store, m.job_id))
                for m in platform.machines()]

    def set_machine_state(self, name: str, state: str) -> Machine:
        return self._platform().set_machine_state(name, state)

    def usage(self) -> Usage:
        from emulator.settings import load
        from emulator.usage import empty_report

        platform = self._existing_platform()
        return empty_report(self._home_path, load().storage_quota_bytes) if platform is None else platform.usage()

    def outbox(self) -> list[dict[str, str]]:
        platform = self._existing_platform()
        return [] if platform is None else platform.outbox()

    def home(self) -> Path:
        return self._home_path


def _job_name(store, job_id: int) -> str | None:
    try:
        return store.job(job_id).name
    except KeyError:  # no such record: the machine shows the id alone
        return None


def untouched_machines() -> list[Machine]:
    """The simulated machines as a home where no job ran has them: every one available and free,
    with the capability the store would record (the same reads as Acting.machines)."""
    from emulator.engine import gpu
    from emulator.job.machine import machine_names

    cuda = gpu.machine_cuda()[0]
    return [Machine(name, "available", cuda, None, 0) for name in machine_names()]
