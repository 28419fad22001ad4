"""What `pip install .` ships, from `setup.cfg`: every subpackage and every
data file of the package.

The suite imports keras_nlg from the checkout (pytest puts the repository
first on `sys.path`), so a subpackage or data file that `setup.cfg` leaves
out would pass every other test and fail only for users.
"""

import configparser
import fnmatch
import os

import setuptools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup_cfg():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    return parser


def source_files(suffix_is_py):
    for directory, names, files in os.walk(os.path.join(ROOT, "keras_nlg")):
        names[:] = [name for name in names if name != "__pycache__"]
        for name in files:
            if name.endswith((".pyc", ".pyo")):
                continue
            if name.endswith(".py") == suffix_is_py:
                yield os.path.relpath(os.path.join(directory, name), ROOT)


def test_every_folder_with_python_files_is_a_shipped_package():
    include = setup_cfg()["options.packages.find"]["include"].split()
    shipped = set(setuptools.find_packages(where=ROOT, include=include))
    needed = {os.path.dirname(path).replace(os.sep, ".") for path in source_files(True)}
    assert needed - shipped == set()


def test_every_data_file_is_shipped():
    package_data = {
        package.strip(): [pattern.strip() for pattern in patterns.split(",")]
        for package, patterns in setup_cfg()["options.package_data"].items()
    }
    missing = []
    for path in source_files(False):
        owners = [
            (package, pattern)
            for package, patterns in package_data.items()
            for pattern in patterns
            if path.startswith(package.replace(".", os.sep) + os.sep)
            and fnmatch.fnmatch(
                os.path.relpath(path, package.replace(".", os.sep)), pattern
            )
        ]
        if not owners:
            missing.append(path)
    assert missing == []
