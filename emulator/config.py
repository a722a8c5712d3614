"""Where the emulator keeps its state, and which Docker image stands for each [ubuntu] version.

The emulator home holds state.db (sqlite), machines/ (each simulated machine's local disk) and
config.toml. It is $CYCLE_HOME, or ~/.cycle when that is unset.

Image mapping, first match wins:
  1. $CYCLE_IMAGE_UBUNTU_24_04 (one variable per version, dots as underscores)
  2. $CYCLE_BASE_IMAGE (every version)
  3. [images] in <home>/config.toml, e.g. "24.04" = "cycle/base:busybox"
  4. ubuntu:<version>, the image the platform itself uses
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cycle.errors import BadInput
from emulator.settings import load, version_env_name

if TYPE_CHECKING:  # tomlkit is imported when config.toml is read: read-only commands start lean
    import tomlkit

BASE_IMAGE_ENV = "CYCLE_BASE_IMAGE"


def emulator_home() -> Path:
    """The home of the settings ($CYCLE_HOME, else ~/.cycle), created private: private_home."""
    return private_home(load().home)


def private_home(home: Path) -> Path:
    """`home`, created private to the user (0700) when missing: it holds what jobs wrote, as root,
    to /artifacts. The one way a home is made (the platform's state, a store's folders and
    config.toml come through here), so no path makes it with the umask's 0755. An existing folder
    keeps its mode (it may be one the user chose to share); machines/ inside it is always private."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home


def config_path(home: Path | None = None) -> Path:
    """Where config.toml is (`home`, else the settings' home); finding it creates nothing, so
    reading a config that is not there leaves no home behind (write_config makes the home)."""
    return (home or load().home) / "config.toml"


@dataclass(frozen=True)
class ImageChoice:
    """The image chosen for an [ubuntu] version and why, so every run can say what it used."""

    version: str
    image: str
    source: str


def read_config(home: Path | None = None) -> tomlkit.TOMLDocument:
    import tomlkit

    path = config_path(home)
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except Exception as error:  # tomlkit raises several types; all mean the same to the user
        raise BadInput(f"{path}: cannot be read as TOML ({error}). Fix or delete the file.") from None


def config_values(home: Path | None = None) -> dict:
    """config.toml as plain values, for reading only (read_config's document is for editing): the
    standard library's tomllib reads it without the import of tomlkit every job would pay."""
    import tomllib

    path = config_path(home)
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        raise BadInput(f"{path}: cannot be read as TOML ({error}). Fix or delete the file.") from None


def write_config(doc: tomlkit.TOMLDocument, home: Path | None = None) -> Path:
    import tomlkit

    path = config_path(home)
    private_home(path.parent)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(path)
    return path


def image_for(version: str, home: Path | None = None) -> ImageChoice:
    settings = load()
    override = settings.image_override(version)
    if override:
        return ImageChoice(version, override, f"${version_env_name(version)}")
    if settings.base_image:
        return ImageChoice(version, settings.base_image, f"${BASE_IMAGE_ENV}")
    images = config_values(home).get("images", {})
    if version in images:
        return ImageChoice(version, str(images[version]), f"{config_path(home)} [images]")
    return ImageChoice(version, f"ubuntu:{version}", "default (the platform's own image)")


def map_versions(image: str, versions: list[str], home: Path | None = None) -> Path:
    """Record `image` as the stand-in for `versions` in config.toml."""
    import tomlkit

    doc = read_config(home)
    if "images" not in doc:
        doc.add("images", tomlkit.table())
    for version in versions:
        doc["images"][version] = image
    return write_config(doc, home)


def unmap_versions(versions: list[str], home: Path | None = None) -> Path:
    """Forget config.toml's stand-in for `versions`, so they use the real ubuntu:<version> again."""
    doc = read_config(home)
    images = doc.get("images")
    for version in versions:
        if images is not None and version in images:
            del images[version]
    return write_config(doc, home)
