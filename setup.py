"""Package layout (everything else is in pyproject.toml).

The repository keeps the design card's top-level folders `envs/` and `tasks/`, but they install
and import as `legged_train.envs` and `legged_train.tasks`: top-level names as common as `envs`
and `tasks` would be shadowed by (or shadow) a user's own folders of those names.
"""

from setuptools import find_namespace_packages, setup

MAPPED = {"legged_train.envs": "envs", "legged_train.tasks": "tasks"}



def find(folder: str) -> list[str]:
    # Namespace discovery, so data-only folders (robot assets) are packages too, as setuptools wants.
    return find_namespace_packages(include=[folder, folder + ".*"], exclude=["*__pycache__*"])


packages = find("legged_train")
for package, folder in MAPPED.items():
    packages += [package + sub[len(folder):] for sub in find(folder)]

setup(packages=packages, package_dir=MAPPED)
