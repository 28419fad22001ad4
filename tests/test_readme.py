import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def test_ci_runs_the_readme_test_command_verbatim():
    command = read(".ci/run").strip().splitlines()[-1]
    assert "pytest" in command
    assert f"\n{command}\n" in read("README.md")


def test_readme_main_command_installs_and_trains():
    readme = read("README.md")
    assert "pip install . && .venv/bin/keras-nlg train --out runs/shakespeare" in readme
